#include "ops_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace zumero::opstest {
namespace {

std::size_t append_body(char *data, std::size_t size, std::size_t count, void *target) {
  static_cast<std::string *>(target)->append(data, size * count);
  return size * count;
}

std::size_t add_header(char *data, std::size_t size, std::size_t count, void *target) {
  std::string line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r\n") + 1);
    (*static_cast<std::map<std::string, std::string> *>(target))[name] = value;
  }
  return size * count;
}

[[noreturn]] void malformed(std::size_t line, const std::string &why, const std::string &text) {
  throw std::runtime_error("line " + std::to_string(line) + ": " + why + ": " + text);
}

bool valid_metric_name(const std::string &name) {
  static const std::regex pattern("[a-zA-Z_:][a-zA-Z0-9_:]*");
  return std::regex_match(name, pattern);
}

bool valid_label_name(const std::string &name) {
  static const std::regex pattern("[a-zA-Z_][a-zA-Z0-9_]*");
  return std::regex_match(name, pattern);
}

std::optional<double> parse_value(const std::string &text) {
  if (text == "+Inf" || text == "Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  if (text == "NaN") return std::nan("");
  if (text.empty()) return std::nullopt;
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return value;
}

// The family a sample belongs to: histograms add _bucket, _sum and _count.
std::string family_of(const std::string &name, const std::map<std::string, std::string> &types) {
  for (const char *suffix : {"_bucket", "_sum", "_count"}) {
    std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      std::string base = name.substr(0, name.size() - s.size());
      auto type = types.find(base);
      if (type != types.end() && type->second == "histogram") return base;
    }
  }
  return name;
}

// Parses `{a="x",b="y"}` starting at text[i] == '{'; leaves i after the '}'.
Labels parse_labels(const std::string &text, std::size_t &i, std::size_t line) {
  Labels labels;
  ++i;
  while (i < text.size() && text[i] != '}') {
    std::size_t equals = text.find('=', i);
    if (equals == std::string::npos) malformed(line, "label without '='", text);
    std::string name = text.substr(i, equals - i);
    if (!valid_label_name(name)) malformed(line, "invalid label name '" + name + "'", text);
    i = equals + 1;
    if (i >= text.size() || text[i] != '"') malformed(line, "label value not quoted", text);
    ++i;
    std::string value;
    for (;; ++i) {
      if (i >= text.size()) malformed(line, "unterminated label value", text);
      char c = text[i];
      if (c == '"') break;
      if (c == '\\') {
        if (++i >= text.size()) malformed(line, "unterminated escape", text);
        char escaped = text[i];
        if (escaped == '\\') value += '\\';
        else if (escaped == '"') value += '"';
        else if (escaped == 'n') value += '\n';
        else malformed(line, "invalid escape", text);
      } else {
        value += c;
      }
    }
    ++i;  // the closing quote
    if (labels.count(name)) malformed(line, "label '" + name + "' twice", text);
    labels[name] = value;
    if (i < text.size() && text[i] == ',') ++i;
    else if (i >= text.size() || text[i] != '}') malformed(line, "expected ',' or '}'", text);
  }
  if (i >= text.size()) malformed(line, "unterminated label set", text);
  ++i;
  return labels;
}

void check_histograms(const Exposition &exposition) {
  for (const auto &[family, type] : exposition.types) {
    if (type != "histogram") continue;
    // Per label set without le: bucket values in the order given.
    std::map<Labels, std::vector<std::pair<double, double>>> buckets;
    for (const Sample &sample : exposition.samples) {
      if (sample.name != family + "_bucket") continue;
      Labels rest = sample.labels;
      auto le = rest.find("le");
      if (le == rest.end()) throw std::runtime_error(family + ": a bucket without le");
      std::optional<double> bound = parse_value(le->second);
      if (!bound) throw std::runtime_error(family + ": le is not a number");
      rest.erase(le);
      buckets[rest].emplace_back(*bound, sample.value);
    }
    for (const auto &[labels, series] : buckets) {
      for (std::size_t i = 1; i < series.size(); ++i) {
        if (!(series[i].first > series[i - 1].first)) throw std::runtime_error(family + ": le not increasing");
        if (series[i].second < series[i - 1].second) throw std::runtime_error(family + ": buckets not cumulative");
      }
      if (series.empty() || !std::isinf(series.back().first)) throw std::runtime_error(family + ": no +Inf bucket");
      std::optional<double> count = exposition.find(family + "_count", labels);
      if (!count || *count != series.back().second) throw std::runtime_error(family + ": _count differs from +Inf");
      if (!exposition.find(family + "_sum", labels)) throw std::runtime_error(family + ": no _sum");
    }
  }
}

}  // namespace

HttpAnswer http_get(const std::string &url, const std::optional<std::string> &user_password,
                    const std::vector<std::string> &headers, const std::string &ca_file) {
  std::unique_ptr<CURL, void (*)(CURL *)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw std::runtime_error("curl_easy_init failed");
  HttpAnswer answer;
  curl_slist *list = nullptr;
  for (const std::string &header : headers) list = curl_slist_append(list, header.c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist *)> header_list(list, curl_slist_free_all);
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, add_header);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &answer.headers);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");
  if (list) curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, list);
  if (!ca_file.empty()) curl_easy_setopt(curl.get(), CURLOPT_CAINFO, ca_file.c_str());
  if (user_password) {
    curl_easy_setopt(curl.get(), CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(curl.get(), CURLOPT_USERPWD, user_password->c_str());
  }
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) throw std::runtime_error("GET " + url + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

std::optional<double> Exposition::find(const std::string &name, const Labels &labels) const {
  for (const Sample &sample : samples)
    if (sample.name == name && sample.labels == labels) return sample.value;
  return std::nullopt;
}

Exposition parse_prometheus(const std::string &text) {
  if (text.empty() || text.back() != '\n') throw std::runtime_error("the exposition must end with a line feed");
  Exposition exposition;
  std::set<std::string> finished;  // families whose samples are over
  std::string current;             // the family being read
  std::set<std::pair<std::string, Labels>> seen;
  std::istringstream in(text);
  std::string line;
  std::size_t number = 0;
  auto enter = [&](const std::string &family, std::size_t at) {
    if (family == current) return;
    if (finished.count(family)) malformed(at, "family '" + family + "' appears twice", family);
    if (!current.empty()) finished.insert(current);
    current = family;
  };
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, name;
      words >> hash >> keyword >> name;
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
      if (!valid_metric_name(name)) malformed(number, "invalid metric name", line);
      enter(name, number);
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (keyword == "HELP") {
        if (exposition.help.count(name)) malformed(number, "HELP twice", line);
        exposition.help[name] = rest;
      } else {
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!kTypes.count(rest)) malformed(number, "unknown type", line);
        if (exposition.types.count(name)) malformed(number, "TYPE twice", line);
        for (const Sample &sample : exposition.samples)
          if (family_of(sample.name, exposition.types) == name) malformed(number, "TYPE after samples", line);
        exposition.types[name] = rest;
      }
      continue;
    }
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    Sample sample;
    sample.name = line.substr(0, i);
    if (!valid_metric_name(sample.name)) malformed(number, "invalid metric name", line);
    if (i < line.size() && line[i] == '{') sample.labels = parse_labels(line, i, number);
    if (i >= line.size() || line[i] != ' ') malformed(number, "expected a space before the value", line);
    std::istringstream rest(line.substr(i + 1));
    std::string value_text, timestamp, extra;
    rest >> value_text >> timestamp >> extra;
    if (!extra.empty()) malformed(number, "trailing text", line);
    std::optional<double> value = parse_value(value_text);
    if (!value) malformed(number, "invalid value", line);
    sample.value = *value;
    std::string family = family_of(sample.name, exposition.types);
    if (!exposition.types.count(family)) malformed(number, "sample without TYPE", line);
    enter(family, number);
    if (!seen.insert({sample.name, sample.labels}).second) malformed(number, "series twice", line);
    if (exposition.types[family] == "counter" && sample.value < 0) malformed(number, "negative counter", line);
    exposition.samples.push_back(std::move(sample));
  }
  check_histograms(exposition);
  return exposition;
}

int metrics_port_from_log(const std::string &log) {
  static const std::regex pattern("metrics listening on http://[^ ]+:([0-9]+)");
  std::smatch match;
  if (!std::regex_search(log, match, pattern)) return 0;
  return std::stoi(match[1].str());
}

}  // namespace zumero::opstest
