#include "qx/store/sqlite.h"

#include <sqlite3.h>

#include "qx/core/error.h"

namespace qx::store {

Database::Database(const std::string& path, Access access) : path_(path) {
  const int flags = access == Access::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    fail("results database {}: cannot open: {}", path, message);
  }
  sqlite3_busy_timeout(db_, 10000);
  execute("PRAGMA foreign_keys = ON");
}

Database::~Database() { sqlite3_close(db_); }

void Database::execute(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    fail("results database {}: {} (in: {})", path_, text, sql.substr(0, 60));
  }
}

std::int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }

Statement::Statement(Database& db, const std::string& sql) : db_(db), sql_(sql) {
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &statement_, nullptr) != SQLITE_OK) {
    fail("results database {}: {} (in: {})", db.path(), sqlite3_errmsg(db.handle()), sql.substr(0, 60));
  }
}

Statement::~Statement() { sqlite3_finalize(statement_); }

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
  return *this;
}
Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(statement_, index, value);
  return *this;
}
Statement& Statement::bind(int index, const std::string& value) {
  sqlite3_bind_text(statement_, index, value.c_str(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(statement_, index);
  return *this;
}

Statement& Statement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
  return *this;
}

bool Statement::step() {
  const int status = sqlite3_step(statement_);
  if (status == SQLITE_ROW) return true;
  if (status == SQLITE_DONE) return false;
  fail("results database {}: {} (in: {})", db_.path(), sqlite3_errmsg(db_.handle()), sql_.substr(0, 60));
}

std::int64_t Statement::column_int(int index) const { return sqlite3_column_int64(statement_, index); }
double Statement::column_double(int index) const { return sqlite3_column_double(statement_, index); }
std::string Statement::column_text(int index) const {
  const auto* text = sqlite3_column_text(statement_, index);
  return text ? reinterpret_cast<const char*>(text) : "";
}
bool Statement::column_is_null(int index) const { return sqlite3_column_type(statement_, index) == SQLITE_NULL; }

Transaction::Transaction(Database& db) : db_(db) { db_.execute("BEGIN IMMEDIATE"); }
Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.execute("ROLLBACK");
    } catch (...) {
      // A destructor must not throw; the connection closes the transaction anyway.
    }
  }
}
void Transaction::commit() {
  db_.execute("COMMIT");
  done_ = true;
}

}  // namespace qx::store
