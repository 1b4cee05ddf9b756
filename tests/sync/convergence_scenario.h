// One seed of the convergence suite: 3 to 5 client files and one zumero-server make
// random changes and sync in random ways, then every client is compared with a fresh
// observer and every write is accounted for. See tests/README.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convergence_internal.h"

namespace zumero::convergence {

struct ScenarioReport {
  std::uint64_t seed = 0;
  std::string parameters;         // what the seed chose, one line
  std::vector<Failure> failures;  // empty when the seed passed
  std::vector<std::string> log;   // every operation, in order
  double seconds = 0;
};

// `stream_log`: print the operation log while the scenario runs.
ScenarioReport run_scenario(std::uint64_t seed, bool stream_log);

}  // namespace zumero::convergence
