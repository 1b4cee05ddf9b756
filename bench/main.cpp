// zumero-bench: measures what a zumero table costs compared with a plain SQLite
// table. This file only picks the subcommand; each one lives in its own file.
#include "bench_util.h"
#include "subcommands.h"

#include <cstring>
#include <iostream>

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
};

void print_usage(std::ostream &out) {
  out << "usage: zumero-bench <subcommand> [options]\n\nsubcommands:\n";
  for (const Subcommand &subcommand : subcommands)
    out << "  " << subcommand.name << "  " << subcommand.summary << "\n";
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
