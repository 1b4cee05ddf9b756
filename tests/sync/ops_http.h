// Helpers for the tests of the operator's routes: GET requests with HTTP Basic
// credentials, and a strict reader of the Prometheus text format.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace zumero::opstest {

struct HttpAnswer {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
};

// A GET with libcurl. `user_password` ("user:password") is sent as HTTP Basic
// credentials; `headers` are extra request headers; `ca_file` is the certificate to
// trust for https. Throws std::runtime_error when no answer arrives.
HttpAnswer http_get(const std::string &url, const std::optional<std::string> &user_password = std::nullopt,
                    const std::vector<std::string> &headers = {}, const std::string &ca_file = "");

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram, ...
  std::map<std::string, std::string> help;
  std::vector<Sample> samples;

  // The value of one series; nullopt when it is absent.
  std::optional<double> find(const std::string &name, const Labels &labels = {}) const;
  // The same, 0 when absent (counters that only appear once they moved).
  double value(const std::string &name, const Labels &labels = {}) const { return find(name, labels).value_or(0); }
};

// Reads the text format 0.0.4 as Prometheus does, and checks what it requires: HELP
// and TYPE at most once per family and before its samples, the samples of a family
// together, valid metric and label names, label values quoted with only \\, \" and \n
// escaped, numeric values, no series twice, histograms with cumulative buckets ending
// in le="+Inf" equal to _count, and a _sum. Throws std::runtime_error naming the line.
Exposition parse_prometheus(const std::string &text);

// The port in the server's "metrics listening on http://HOST:PORT" log line; 0 when
// the log has no such line.
int metrics_port_from_log(const std::string &log);

}  // namespace zumero::opstest
