// Bookkeeping of the convergence suite: every write a client committed, and what became
// of it in each client file that held it, so the end of a scenario can tell a change
// that was legitimately set aside (superseded locally, quarantined) from one that was
// lost.
//
// Every insert and update writes a unique token into the row's `tag` column; a
// deletion is remembered by the tag the row had when it was deleted. A change is held
// by the file that made it, and also by a copy of that file made before it was synced.
//
// Each file numbers its committed transactions (its write sequence). A sync session
// that starts when the next number is S and ends with partial 0 has pushed everything
// numbered below S. Numbers are taken after COMMIT returned, so a transaction that
// raced with the start of a sync counts as not pushed, which is the safe side.
//
// Thread-safe: a sync thread may report its end while the main thread commits writes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace zumero::convergence {

enum class Fate {
  pending,      // committed locally, not known to be pushed
  pushed,       // a completed sync pushed it: the server must have it
  superseded,   // overwritten or deleted locally before any push: the server may never see it
  quarantined,  // set aside in t$q (qid)
};

const char *fate_name(Fate fate);

struct Holding {
  Fate fate = Fate::pending;
  std::int64_t sequence = 0;  // the file's write sequence number of the transaction
  std::int64_t qid = 0;       // when quarantined
};

// An insert or update, identified by its token.
struct Write {
  std::string table;
  std::string token;
  int writer = 0;
  std::map<int, Holding> holders;  // by file index
  bool duplicated = false;         // a file copy holds it too: it may reach the server twice
};

// A row deleted (directly or by INSERT OR REPLACE), identified by the tag it had.
struct Deletion {
  std::string table;
  std::string tag;
  int deleter = 0;
  std::map<int, Holding> holders;
};

// What one committed local transaction did, as the test saw it, in statement order
// (a row written and then deleted by the same transaction is superseded).
struct Effects {
  enum Kind {
    written,   // a row inserted or updated, with its new token
    replaced,  // the old tag of a row that was updated
    removed,   // the tag of a row that was deleted
  };
  struct Entry {
    Kind kind;
    std::string table;
    std::string tag;
  };
  std::vector<Entry> entries;
  bool empty() const { return entries.empty(); }
};

class Ledger {
public:
  // A fresh token for a write of `file`: c<file>w<n>.
  std::string next_token(int file);

  // Records a committed transaction of `file`.
  void committed(int file, const Effects &effects);

  // The write sequence number a sync of `file` starting now is measured against.
  std::int64_t sync_starting(int file);
  // A sync session of `file` that started at `started` ended with partial 0.
  void sync_completed(int file, std::int64_t started);

  // zumero_quarantine_since_last_sync returned `qid`: every pending change of the file
  // is in it (or was pushed by a sync still counted as uncertain; the end check
  // accepts either).
  void quarantined_all(int file, std::int64_t qid);
  // zumero_sync returned quarantine id `qid`: the changes committed since `started`
  // whose token is in the package (`in_package`), and the deletions since `started` that
  // were undone (`undone`), are in it.
  void quarantined_since(int file, std::int64_t started, std::int64_t qid,
                         const std::function<bool(const std::string &token)> &in_package,
                         const std::function<bool(const std::string &table, const std::string &tag)> &undone);
  // zumero_restore_quarantine(qid) succeeded: its changes are pending local changes again.
  void restored(int file, std::int64_t qid);

  // `to` is a byte copy of `from`: it holds whatever `from` had not pushed yet.
  void copied(int from, int to);

  // Snapshots for the end checks (call when no thread is running).
  std::vector<Write> writes() const;
  std::vector<Deletion> deletions() const;

private:
  std::int64_t take_sequence(int file);

  mutable std::mutex mutex_;
  std::map<int, std::int64_t> next_token_;
  std::map<int, std::int64_t> next_sequence_;
  std::map<std::string, Write> writes_;  // by token
  std::vector<Deletion> deletions_;
};

}  // namespace zumero::convergence
