#include "server/status_page.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace zumero::server {
namespace {

using SystemClock = Metrics::SystemClock;

constexpr const char *kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting at text[i], 0 when there is none.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char first = byte(i);
  std::size_t length = first < 0x80 ? 1 : (first >> 5) == 0x6 ? 2 : (first >> 4) == 0xE ? 3 : (first >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  std::uint32_t code = length == 1 ? first : first & (0x7F >> length);
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  static const std::uint32_t kLowest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kLowest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

std::string utc_time(SystemClock::time_point time) {
  std::time_t seconds = SystemClock::to_time_t(time);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%SZ", &parts);
  return text;
}

std::string clock_time(std::int64_t minute) {
  std::time_t seconds = static_cast<std::time_t>(minute * 60);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M", &parts);
  return text;
}

std::string duration(double seconds) {
  if (seconds < 0) seconds = 0;
  long whole = static_cast<long>(seconds);
  char text[48];
  if (whole < 120) std::snprintf(text, sizeof text, "%ld s", whole);
  else if (whole < 7200) std::snprintf(text, sizeof text, "%ld min", whole / 60);
  else if (whole < 172800) std::snprintf(text, sizeof text, "%ld h %ld min", whole / 3600, whole / 60 % 60);
  else std::snprintf(text, sizeof text, "%ld days", whole / 86400);
  return text;
}

std::string size_text(std::uint64_t bytes) {
  static const char *const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0) std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

const char *const kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d232a; background: #f4f6f8; }
header { background: #1f3a5f; color: #fff; padding: 12px 24px; }
header h1 { margin: 0; font-size: 20px; }
header p { margin: 4px 0 0; opacity: 0.85; }
main { padding: 16px 24px; max-width: 1200px; }
section { background: #fff; border: 1px solid #d8dee4; border-radius: 6px; margin: 0 0 16px; padding: 12px 16px; }
h2 { font-size: 16px; margin: 0 0 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 140px; background: #f6f8fa; border-radius: 4px; padding: 8px 12px; }
.card b { display: block; font-size: 20px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
td.wrap { white-space: normal; word-break: break-all; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-error { color: #b42318; font-weight: 600; }
.empty { color: #6b7785; font-style: italic; }
svg text { font-size: 11px; fill: #57606a; }
.bar-pull { fill: #2f81f7; }
.bar-push { fill: #e3a008; }
.grid { stroke: #eaeef2; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }
.swatch-pull { background: #2f81f7; }
.swatch-push { background: #e3a008; }
)";

class Page {
public:
  Page &text(std::string_view raw) {
    html_ += html_escape(raw);
    return *this;
  }
  Page &markup(std::string_view fixed) {
    html_ += fixed;
    return *this;
  }
  Page &cell(std::string_view raw, std::string_view css_class = "") {
    html_ += css_class.empty() ? "<td>" : "<td class=\"" + std::string(css_class) + "\">";
    text(raw);
    html_ += "</td>";
    return *this;
  }
  std::string take() { return std::move(html_); }

private:
  std::string html_;
};

void summary(Page &page, const StatusPageData &data) {
  auto card = [&](std::string_view label, const std::string &value, std::string_view id) {
    page.markup("<div class=\"card\" id=\"").markup(id).markup("\"><b>").text(value).markup("</b>").text(label).markup(
        "</div>");
  };
  std::string backup = data.last_backup
                           ? duration(std::chrono::duration<double>(data.now - *data.last_backup).count()) + " ago"
                           : std::string("none yet");
  page.markup("<section><h2>Summary</h2><div class=\"cards\">");
  card("dbfiles", std::to_string(data.dbfiles.size() + data.dbfiles_not_shown), "card-dbfiles");
  card("on disk", size_text(data.dbfile_bytes), "card-bytes");
  card("requests", std::to_string(data.requests), "card-requests");
  card("4xx and 5xx answers", std::to_string(data.errors), "card-errors");
  card("rows pushed", std::to_string(data.rows_pushed), "card-rows-pushed");
  card("rows pulled", std::to_string(data.rows_pulled), "card-rows-pulled");
  card("last backup", backup, "card-backup");
  page.markup("</div></section>");
}

// Syncs per minute over the last hour: one stacked bar per minute (pulls below,
// pushes above), the newest at the right.
void chart(Page &page, const std::vector<Metrics::MinuteCount> &minutes) {
  constexpr int kLeft = 44, kTop = 12, kPlotHeight = 160, kBarWidth = 10, kGap = 2, kBottom = 24;
  const int slots = static_cast<int>(minutes.size());
  const int plot_width = slots * (kBarWidth + kGap);
  const int width = kLeft + plot_width + 8, height = kTop + kPlotHeight + kBottom;
  std::uint64_t peak = 1;
  std::uint64_t total = 0;
  for (const auto &minute : minutes) {
    peak = std::max(peak, minute.pushes + minute.pulls);
    total += minute.pushes + minute.pulls;
  }
  // A round scale: 1, 2 or 5 times a power of ten.
  std::uint64_t scale = 1;
  while (scale < peak) {
    if (scale * 2 >= peak) scale *= 2;
    else if (scale * 5 >= peak) scale *= 5;
    else scale *= 10;
  }
  auto y_of = [&](double value) { return kTop + kPlotHeight - value * kPlotHeight / static_cast<double>(scale); };
  char buffer[256];

  page.markup("<section><h2>Syncs per minute, last hour</h2>");
  std::snprintf(buffer, sizeof buffer,
                "<svg id=\"syncs-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"syncs per minute\" data-total=\"%llu\">",
                width, height, width, height, static_cast<unsigned long long>(total));
  page.markup(buffer);
  // Grid lines at 0, the middle (when it is a whole number) and the top.
  for (int step = 0; step <= 2; ++step) {
    if (step == 1 && scale % 2 != 0) continue;
    double value = static_cast<double>(scale) * step / 2;
    double y = y_of(value);
    std::snprintf(buffer, sizeof buffer,
                  "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
                  "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>",
                  kLeft, kLeft + plot_width, y, y, kLeft - 6, y + 4, value);
    page.markup(buffer);
  }
  for (int i = 0; i < slots; ++i) {
    const auto &minute = minutes[static_cast<std::size_t>(i)];
    int x = kLeft + i * (kBarWidth + kGap);
    double pull_top = y_of(static_cast<double>(minute.pulls));
    double push_top = y_of(static_cast<double>(minute.pulls + minute.pushes));
    double bottom = y_of(0);
    std::snprintf(buffer, sizeof buffer,
                  "<g class=\"minute\" data-minute=\"%s\" data-syncs=\"%llu\"><title>%s: %llu pushes, %llu pulls</title>"
                  "<rect class=\"bar-pull\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>"
                  "<rect class=\"bar-push\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/></g>",
                  clock_time(minute.minute).c_str(), static_cast<unsigned long long>(minute.pushes + minute.pulls),
                  clock_time(minute.minute).c_str(), static_cast<unsigned long long>(minute.pushes),
                  static_cast<unsigned long long>(minute.pulls), x, pull_top, kBarWidth, bottom - pull_top, x, push_top,
                  kBarWidth, pull_top - push_top);
    page.markup(buffer);
  }
  for (int i : {0, slots / 2, slots - 1}) {
    if (i < 0 || i >= slots) continue;
    std::snprintf(buffer, sizeof buffer, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>",
                  kLeft + i * (kBarWidth + kGap) + kBarWidth / 2, kTop + kPlotHeight + 16,
                  clock_time(minutes[static_cast<std::size_t>(i)].minute).c_str());
    page.markup(buffer);
  }
  page.markup("</svg><p class=\"legend\"><span class=\"swatch-pull\"></span>pulls<span class=\"swatch-push\"></span>"
              "pushes (UTC; successful /pull and /push requests)</p>"
              "</section>");
}

void dbfile_table(Page &page, const StatusPageData &data) {
  page.markup("<section><h2>Dbfiles</h2><table id=\"dbfiles\"><thead><tr><th>dbfile</th><th class=\"num\">size</th>"
              "<th class=\"num\">version</th><th>last sync (since start)</th></tr></thead><tbody>");
  for (const DbfileStatus &dbfile : data.dbfiles) {
    page.markup("<tr class=\"dbfile\">");
    page.cell(dbfile.name, "wrap");
    page.markup("<td class=\"num\" title=\"").text(std::to_string(dbfile.bytes) + " bytes").markup("\">");
    page.text(size_text(dbfile.bytes)).markup("</td>");
    page.cell(dbfile.version ? std::to_string(*dbfile.version) : std::string("?"), "num");
    page.cell(dbfile.last_sync ? utc_time(*dbfile.last_sync) : std::string("-"));
    page.markup("</tr>");
  }
  if (data.dbfiles.empty()) page.markup("<tr><td colspan=\"4\" class=\"empty\">no dbfiles yet</td></tr>");
  page.markup("</tbody></table>");
  if (data.dbfiles_not_shown)
    page.markup("<p class=\"empty\">").text(std::to_string(data.dbfiles_not_shown) + " more not shown").markup("</p>");
  page.markup("</section>");
}

void request_table(Page &page, const char *id, const char *title, const std::vector<Metrics::RequestRecord> &records,
                   bool errors) {
  page.markup("<section><h2>").markup(title).markup("</h2><table id=\"").markup(id).markup("\"><thead><tr>");
  page.markup("<th>time (UTC)</th><th>request</th><th class=\"num\">status</th>");
  if (errors) page.markup("<th>error</th><th>message</th>");
  else page.markup("<th class=\"num\">ms</th><th class=\"num\">in</th><th class=\"num\">out</th>");
  page.markup("<th>dbfile</th><th>user</th><th>address</th></tr></thead><tbody>");
  for (const Metrics::RequestRecord &record : records) {
    page.markup("<tr>");
    page.cell(utc_time(record.time));
    page.cell(record.method + " " + record.path, "wrap");
    page.cell(std::to_string(record.status), record.status >= 400 ? "num status-error" : "num");
    if (errors) {
      page.cell(record.error);
      page.cell(record.message, "wrap");
    } else {
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.1f", record.seconds * 1000);
      page.cell(ms, "num");
      page.cell(std::to_string(record.bytes_in), "num");
      page.cell(std::to_string(record.bytes_out), "num");
    }
    page.cell(record.dbfile, "wrap");
    page.cell(record.user, "wrap");
    page.cell(record.remote_address);
    page.markup("</tr>");
  }
  if (records.empty())
    page.markup("<tr><td colspan=\"9\" class=\"empty\">").markup(errors ? "no errors" : "no requests").markup(
        "</td></tr>");
  page.markup("</tbody></table></section>");
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char c = text[i];
    switch (c) {
      case '&': escaped += "&amp;"; ++i; continue;
      case '<': escaped += "&lt;"; ++i; continue;
      case '>': escaped += "&gt;"; ++i; continue;
      case '"': escaped += "&quot;"; ++i; continue;
      case '\'': escaped += "&#39;"; ++i; continue;
      default: break;
    }
    std::size_t length = utf8_sequence(text, i);
    bool control = length == 1 && static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n';
    if (length == 0 || control || (length == 1 && c == 0x7f)) {
      escaped += kReplacement;
      ++i;
    } else {
      escaped.append(text.substr(i, length));
      i += length;
    }
  }
  return escaped;
}

std::string render_status_page(const StatusPageData &data) {
  Page page;
  page.markup("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
              "<title>zumero-server status</title><style>")
      .markup(kStyle)
      .markup("</style></head><body><header><h1>zumero-server status</h1><p>");
  page.text("as of " + utc_time(data.now) + ", up " +
            duration(std::chrono::duration<double>(data.now - data.started).count()) + " (since " +
            utc_time(data.started) + ")");
  page.markup("</p><p id=\"node\">");
  page.text("node " + data.node + ", storage " + data.backend);
  page.markup("</p></header><main>");
  summary(page, data);
  chart(page, data.syncs_per_minute);
  dbfile_table(page, data);
  request_table(page, "recent-requests", "Recent requests", data.recent_requests, false);
  request_table(page, "recent-errors", "Recent errors (not the 401 a browser gets before it sends credentials)",
                data.recent_errors, true);
  page.markup("</main></body></html>\n");
  return page.take();
}

}  // namespace zumero::server
