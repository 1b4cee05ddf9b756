// zumero sync DB URL DBFILE: calls zumero_sync until nothing is partial.
#include <unistd.h>

#include <cstdio>

#include "base/sql.h"
#include "cli/client_database.h"
#include "cli/commands.h"
#include "cli/progress_display.h"

namespace zumero::cli {

int run_sync(const SyncCommand &command) {
  std::optional<ResolvedCredentials> credentials = resolve_credentials(command.credentials);
  ClientDatabase database(command.database, false);
  ProgressDisplay progress(database.db(), stdout, command.quiet);
  constexpr int kMaxCalls = 100000;
  for (int call = 1; call <= kMaxCalls; ++call) {
    SyncResult result = parse_sync_result(zumero_sync_call(database.db(), command.url, command.dbfile, credentials));
    progress.clear();
    std::printf("sync %d: partial %lld, quarantine %lld, up %lld bytes (%lld sent), down %lld bytes (%lld received), "
                "%lld ms\n",
                call, static_cast<long long>(result.partial), static_cast<long long>(result.quarantine),
                static_cast<long long>(result.up_full), static_cast<long long>(result.up),
                static_cast<long long>(result.down_full), static_cast<long long>(result.down),
                static_cast<long long>(result.total_ms));
    if (result.quarantine)
      std::printf("changes made during the sync could not be restored: quarantined package %lld "
                  "(see zumero quarantine)\n",
                  static_cast<long long>(result.quarantine));
    std::fflush(stdout);
    if (!result.partial) return 0;
  }
  throw Error(SQLITE_ERROR, "zumero:http_other (the server kept answering partial)");
}

}  // namespace zumero::cli
