// A minimal blocking HTTP(S) client for the sync protocol, built on libcurl.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace zumero {

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string content_type;
};

// POSTs body to base_url + path. base_url may end with or without '/'; path may start
// with or without '/'. Credentials and protocol data travel in the body, and the caller
// chooses the content type. The body is sent and received as is: no content encoding is
// requested or decoded.
//
// TLS certificates are always verified. When the environment variable ZUMERO_CA_FILE is
// set and non-empty, it names the CA bundle (or a self-signed server certificate) to trust.
//
// Throws zumero::Error with message "zumero:network_connection_failed" when no complete
// HTTP response was received (connection refused, DNS failure, TLS failure, timeout,
// connection dropped). Any HTTP status, including 4xx and 5xx, is returned normally.
//
// progress, when set, is called as the transfer goes on (at least about once a second,
// and as data moves) with the bytes of the request body sent and of the reply received,
// and their totals (-1 while unknown). Returning false aborts the transfer: http_post
// then throws Cancelled. It must not throw.
struct TransferBytes {
  std::int64_t sent = 0;
  std::int64_t send_total = -1;
  std::int64_t received = 0;
  std::int64_t receive_total = -1;
};
using TransferProgress = std::function<bool(const TransferBytes &)>;

HttpResponse http_post(const std::string &base_url, const std::string &path, const std::string &body,
                       const std::string &content_type, long timeout_seconds = 300,
                       const TransferProgress &progress = TransferProgress());

// GETs base_url + path, with everything else as http_post (a health check, say).
HttpResponse http_get(const std::string &base_url, const std::string &path, long timeout_seconds = 300);

// The same requests on one reused handle: its connections stay open between requests
// (HTTP keep-alive, TLS sessions), so a series of requests to one server pays for
// one connection. Not for use by two threads at once.
class HttpSession {
public:
  HttpSession();
  ~HttpSession();
  HttpSession(const HttpSession &) = delete;
  HttpSession &operator=(const HttpSession &) = delete;

  HttpResponse post(const std::string &base_url, const std::string &path, const std::string &body,
                    const std::string &content_type, long timeout_seconds = 300,
                    const TransferProgress &progress = TransferProgress());
  HttpResponse get(const std::string &base_url, const std::string &path, long timeout_seconds = 300);

private:
  void *handle_ = nullptr;  // CURL *, created at the first request
};

// Replies larger than this are not read to the end: the transfer fails.
constexpr std::size_t kMaxReplyBytes = std::size_t(512) << 20;

}  // namespace zumero
