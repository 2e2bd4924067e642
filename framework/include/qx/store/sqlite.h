#pragma once
// A thin RAII layer over the SQLite C API: a connection, prepared statements and transactions
// that roll back unless committed. Errors become qx::Error naming the database and the SQL.
#include <cstdint>
#include <optional>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace qx::store {

// kReadOnly never creates or writes the file: what a report or a check that only reads needs, so
// that reading the committed database leaves it byte for byte as committed.
enum class Access { kReadWrite, kReadOnly };

class Database {
 public:
  explicit Database(const std::string& path, Access access = Access::kReadWrite);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void execute(const std::string& sql);
  std::int64_t last_insert_id() const;
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  Statement(Database& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, const std::string& value);
  Statement& bind_null(int index);
  // True while a row is available.
  bool step();
  void run() { step(); }
  // Ready to run again with new bindings.
  Statement& reset();

  std::int64_t column_int(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;
  bool column_is_null(int index) const;

 private:
  Database& db_;
  sqlite3_stmt* statement_ = nullptr;
  std::string sql_;
};

class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace qx::store
