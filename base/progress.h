// How the long steps of a sync report how far they are, and learn that the application
// wants them to stop. The lower layers (sync/, quarantine/) call this interface; ext/
// implements it on the application's zumero_sync_progress callback, so nothing below
// ext/ knows about that callback.
#pragma once
#include <cstdint>

#include "base/sql.h"

namespace zumero {

// The application's progress callback asked the sync to stop. SQL sees zumero:cancelled
// with SQLITE_INTERRUPT. Code that catches Error to judge a failure lets this one pass.
class Cancelled : public Error {
public:
  Cancelled() : Error(SQLITE_INTERRUPT, "zumero:cancelled") {}
};

// Rows written while a sync applies what it received. expect() announces rows about to
// be written (it may be called again for a later step), row_done() follows each row. The
// observer reports every so often and throws Cancelled to stop; callers never catch it.
class RowProgress {
public:
  virtual ~RowProgress() = default;
  virtual void expect(std::int64_t rows) = 0;
  virtual void row_done() = 0;
};

}  // namespace zumero
