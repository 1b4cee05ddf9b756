// The subcommands of zumero-bench. Each lives in its own source file and receives
// the arguments that follow its name; it returns the process exit status.
// To add one: write <name>_bench.cpp, declare its entry point here, list it in
// main.cpp's subcommand table and in CMakeLists.txt.
#pragma once

#include <ostream>

namespace zumero_bench {

// `zumero-bench local ...`: plain SQLite table versus zumero table on local files.
int run_local_bench(int argc, char **argv);
// Prints the options of `local`.
void print_local_usage(std::ostream &out);

// `zumero-bench sync ...`: push, pull and one-row syncs through a local zumero-server,
// each compared with a plain SQLite bulk insert.
int run_sync_bench(int argc, char **argv);
// Prints the options of `sync`.
void print_sync_usage(std::ostream &out);

// `zumero-bench load ...`: many clients syncing through one local zumero-server at once.
int run_load_bench(int argc, char **argv);
// Prints the options of `load`.
void print_load_usage(std::ostream &out);

}  // namespace zumero_bench
