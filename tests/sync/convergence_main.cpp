// zumero_convergence: the randomized convergence suite.
//
//   zumero_convergence --seeds 1-200      run seeds 1 to 200
//   zumero_convergence --seed 17 --verbose
//
// Each seed is one scenario (see convergence_scenario.h). For every failing seed it
// prints the failed checks and the seed's operation log; --verbose prints the log of
// every seed while it runs. The exit status is 1 when any seed failed, 2 for bad
// arguments.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "convergence_scenario.h"

namespace {

struct Arguments {
  std::uint64_t first = 1;
  std::uint64_t last = 1;
  bool verbose = false;
};

void usage() {
  std::cerr << "usage: zumero_convergence (--seeds A-B | --seed N) [--verbose]\n";
}

bool parse_number(const std::string &text, std::uint64_t &value) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  value = std::stoull(text);
  return true;
}

bool parse(int argc, char **argv, Arguments &arguments) {
  bool seeds_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "--verbose") {
      arguments.verbose = true;
    } else if ((argument == "--seed" || argument == "--seeds") && i + 1 < argc) {
      std::string value = argv[++i];
      std::size_t dash = value.find('-');
      if (argument == "--seed" || dash == std::string::npos) {
        if (!parse_number(value, arguments.first)) return false;
        arguments.last = arguments.first;
      } else if (!parse_number(value.substr(0, dash), arguments.first) ||
                 !parse_number(value.substr(dash + 1), arguments.last) || arguments.last < arguments.first) {
        return false;
      }
      seeds_given = true;
    } else {
      return false;
    }
  }
  return seeds_given;
}

// One line per distinct failure (a defect often repeats at every later sync), and at
// most a few lines per check: the first ones say what went wrong, the rest is noise.
void print_failures(const zumero::convergence::ScenarioReport &report) {
  constexpr int kLinesPerCheck = 8;
  std::vector<std::pair<std::string, int>> distinct;
  for (const auto &failure : report.failures) {
    std::string line = "check " + failure.check + ": " + failure.detail;
    auto seen = std::find_if(distinct.begin(), distinct.end(), [&](const auto &d) { return d.first == line; });
    if (seen == distinct.end()) distinct.emplace_back(line, 1);
    else ++seen->second;
  }
  std::map<std::string, int> shown_per_check;
  std::map<std::string, int> hidden_per_check;
  for (const auto &[line, count] : distinct) {
    std::string check = line.substr(6, line.find(':') - 6);
    if (++shown_per_check[check] > kLinesPerCheck) {
      ++hidden_per_check[check];
      continue;
    }
    std::cout << "FAIL seed " << report.seed << " " << line << (count > 1 ? " (" + std::to_string(count) + " times)" : "")
              << "\n";
  }
  for (const auto &[check, hidden] : hidden_per_check)
    std::cout << "FAIL seed " << report.seed << " check " << check << ": ... and " << hidden << " more\n";
}

void print_log(const zumero::convergence::ScenarioReport &report) {
  std::cout << "--- operation log of seed " << report.seed << " (" << report.parameters << ") ---\n";
  for (const std::string &line : report.log) std::cout << line << "\n";
  std::cout << "--- end of seed " << report.seed << " ---\n";
}

}  // namespace

int main(int argc, char **argv) {
  Arguments arguments;
  if (!parse(argc, argv, arguments)) {
    usage();
    return 2;
  }
  std::string failed_seeds;
  std::uint64_t failed = 0;
  for (std::uint64_t seed = arguments.first; seed <= arguments.last; ++seed) {
    // Named before it runs: a crash of the loaded extension ends the program mid-seed.
    std::printf("seed %llu: running\n", static_cast<unsigned long long>(seed));
    std::fflush(stdout);
    zumero::convergence::ScenarioReport report = zumero::convergence::run_scenario(seed, arguments.verbose);
    bool ok = report.failures.empty();
    std::printf("seed %llu: %s (%.1f s)\n", static_cast<unsigned long long>(seed), ok ? "ok" : "FAILED",
                report.seconds);
    if (!ok) {
      ++failed;
      failed_seeds += " " + std::to_string(seed);
      print_failures(report);
    }
    if (!ok && !arguments.verbose) print_log(report);  // --verbose printed it as it ran
    std::cout.flush();
  }
  std::uint64_t total = arguments.last - arguments.first + 1;
  std::printf("zumero_convergence: %llu of %llu seeds failed%s%s\n", static_cast<unsigned long long>(failed),
              static_cast<unsigned long long>(total), failed ? ":" : "", failed_seeds.c_str());
  return failed ? 1 : 0;
}
