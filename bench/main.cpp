// zumero-bench: measures what a zumero table, and syncing it, costs compared with
// plain SQLite. This file only picks the subcommand; each one lives in its own file.
#include "bench_util.h"
#include "subcommands.h"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>

namespace {

struct Subcommand {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv);
  void (*print_usage)(std::ostream &out);
};

const Subcommand subcommands[] = {
    {"local", "plain SQLite table vs zumero table: insert, update, delete, lookup, scan, size",
     zumero_bench::run_local_bench, zumero_bench::print_local_usage},
    {"sync", "push, pull and one-row syncs through a local zumero-server vs a plain SQLite insert",
     zumero_bench::run_sync_bench, zumero_bench::print_sync_usage},
    {"load", "syncs per second and their latency with many clients on one local zumero-server",
     zumero_bench::run_load_bench, zumero_bench::print_load_usage},
};

void print_usage(std::ostream &out) {
  out << "usage: zumero-bench <subcommand> [options]\n\nsubcommands:\n";
  std::size_t width = 0;
  for (const Subcommand &subcommand : subcommands) width = std::max(width, std::strlen(subcommand.name));
  for (const Subcommand &subcommand : subcommands)
    out << "  " << subcommand.name << std::string(width - std::strlen(subcommand.name) + 2, ' ')
        << subcommand.summary << "\n";
  out << "\n'zumero-bench <subcommand> --help' lists a subcommand's options.\n";
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  for (const Subcommand &subcommand : subcommands) {
    if (std::strcmp(argv[1], subcommand.name) != 0) continue;
    try {
      return subcommand.run(argc - 2, argv + 2);
    } catch (const zumero_bench::UsageError &error) {
      std::cerr << "zumero-bench " << subcommand.name << ": " << error.what() << "\n\n";
      subcommand.print_usage(std::cerr);
      return 2;
    } catch (const std::exception &error) {
      std::cerr << "zumero-bench " << subcommand.name << ": error: " << error.what() << "\n";
      return 1;
    }
  }
  std::cerr << "zumero-bench: unknown subcommand '" << argv[1] << "'\n\n";
  print_usage(std::cerr);
  return 2;
}
