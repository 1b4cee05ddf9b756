#include "sync/http_client.h"

#include "base/progress.h"
#include "base/sql.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>

namespace zumero {
namespace {

struct EasyDeleter {
  void operator()(CURL *handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist *list) const { curl_slist_free_all(list); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) fail("network_connection_failed");
  });
}

void append_header(HeaderList &list, const std::string &line) {
  curl_slist *grown = curl_slist_append(list.get(), line.c_str());
  if (!grown) throw std::bad_alloc();
  list.release();  // now owned by `grown`
  list.reset(grown);
}

std::string join_url(const std::string &base, const std::string &path) {
  bool base_slash = !base.empty() && base.back() == '/';
  bool path_slash = !path.empty() && path.front() == '/';
  if (path.empty()) return base;
  if (base_slash && path_slash) return base + path.substr(1);
  if (!base_slash && !path_slash) return base + "/" + path;
  return base + path;
}

// Loopback never goes through a proxy; other hosts follow the usual environment,
// including any no_proxy list the user already has.
std::string no_proxy_list() {
  std::string list = "localhost,127.0.0.1,::1";
  for (const char *name : {"NO_PROXY", "no_proxy"}) {
    const char *value = std::getenv(name);
    if (value && *value) {
      list += ',';
      list += value;
      break;
    }
  }
  return list;
}

size_t collect_body(char *data, size_t size, size_t count, void *user) {
  size_t bytes = size * count;
  auto *body = static_cast<std::string *>(user);
  if (bytes > kMaxReplyBytes - std::min(body->size(), kMaxReplyBytes)) return 0;  // too large: fail the transfer
  try {
    body->append(data, bytes);
  } catch (...) {
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
  }
  return bytes;
}

// libcurl's transfer callback: hands the figures to the caller's observer; a non-zero
// answer makes curl abort with CURLE_ABORTED_BY_CALLBACK.
int report_transfer(void *user, curl_off_t receive_total, curl_off_t received, curl_off_t send_total,
                    curl_off_t sent) {
  const auto &progress = *static_cast<const TransferProgress *>(user);
  TransferBytes bytes;
  bytes.sent = sent;
  bytes.send_total = send_total > 0 ? send_total : -1;
  bytes.received = received;
  bytes.receive_total = receive_total > 0 ? receive_total : -1;
  try {
    return progress(bytes) ? 0 : 1;
  } catch (...) {
    return 1;  // never let an exception cross into curl
  }
}

template <typename T>
void set(CURL *handle, CURLoption option, T value) {
  if (curl_easy_setopt(handle, option, value) != CURLE_OK) fail("network_connection_failed");
}

}  // namespace

namespace {

// One request on handle h. The options are set anew each time (curl_easy_reset keeps
// the handle's open connections), so nothing of an earlier request carries over.
HttpResponse perform(CURL *h, const std::string &base_url, const std::string &path, const std::string *body,
                     const std::string &content_type, long timeout_seconds,
                     const TransferProgress &progress = TransferProgress()) {
  curl_easy_reset(h);

  HeaderList headers;
  if (body) append_header(headers, "Content-Type: " + content_type);
  append_header(headers, "Expect:");  // no 100-continue round trip

  const std::string url = join_url(base_url, path);
  const std::string no_proxy = no_proxy_list();
  HttpResponse response;

  set(h, CURLOPT_URL, url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
  set(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  set(h, CURLOPT_PROTOCOLS, long(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  set(h, CURLOPT_NOSIGNAL, 1L);
  set(h, CURLOPT_NOPROXY, no_proxy.c_str());
  if (body) {
    set(h, CURLOPT_POST, 1L);
    set(h, CURLOPT_POSTFIELDS, body->data());
    set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else {
    set(h, CURLOPT_HTTPGET, 1L);
  }
  set(h, CURLOPT_HTTPHEADER, headers.get());
  set(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  set(h, CURLOPT_FOLLOWLOCATION, 0L);
  set(h, CURLOPT_CONNECTTIMEOUT, 10L);
  set(h, CURLOPT_TIMEOUT, timeout_seconds > 0 ? timeout_seconds : 0L);
  set(h, CURLOPT_SSL_VERIFYPEER, 1L);
  set(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (const char *ca_file = std::getenv("ZUMERO_CA_FILE"); ca_file && *ca_file) {
    set(h, CURLOPT_CAINFO, ca_file);
  }
  set(h, CURLOPT_WRITEFUNCTION, &collect_body);
  set(h, CURLOPT_WRITEDATA, static_cast<void *>(&response.body));

  if (progress) {
    set(h, CURLOPT_XFERINFOFUNCTION, &report_transfer);
    set(h, CURLOPT_XFERINFODATA, const_cast<void *>(static_cast<const void *>(&progress)));
    set(h, CURLOPT_NOPROGRESS, 0L);
  }

  CURLcode result = curl_easy_perform(h);
  // The headers list must outlive the transfer only.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  if (result == CURLE_ABORTED_BY_CALLBACK) throw Cancelled();
  if (result != CURLE_OK) fail("network_connection_failed");

  long status = 0;
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status == 0) {
    fail("network_connection_failed");
  }
  response.status = status;
  char *type = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type) response.content_type = type;
  return response;
}

CURL *new_handle() {
  global_init_once();
  CURL *handle = curl_easy_init();
  if (!handle) fail("network_connection_failed");
  return handle;
}

}  // namespace

HttpSession::HttpSession() = default;

HttpSession::~HttpSession() {
  if (handle_) curl_easy_cleanup(handle_);
}

HttpResponse HttpSession::post(const std::string &base_url, const std::string &path, const std::string &body,
                               const std::string &content_type, long timeout_seconds,
                               const TransferProgress &progress) {
  if (!handle_) handle_ = new_handle();
  return perform(handle_, base_url, path, &body, content_type, timeout_seconds, progress);
}

HttpResponse HttpSession::get(const std::string &base_url, const std::string &path, long timeout_seconds) {
  if (!handle_) handle_ = new_handle();
  return perform(handle_, base_url, path, nullptr, std::string(), timeout_seconds);
}

HttpResponse http_post(const std::string &base_url, const std::string &path, const std::string &body,
                       const std::string &content_type, long timeout_seconds, const TransferProgress &progress) {
  EasyHandle easy(new_handle());
  return perform(easy.get(), base_url, path, &body, content_type, timeout_seconds, progress);
}

HttpResponse http_get(const std::string &base_url, const std::string &path, long timeout_seconds) {
  EasyHandle easy(new_handle());
  return perform(easy.get(), base_url, path, nullptr, std::string(), timeout_seconds);
}

}  // namespace zumero
