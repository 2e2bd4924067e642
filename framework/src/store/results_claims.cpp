// Claims on cells, so that several `qx run` processes on one database never compute a cell twice.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <fmt/format.h>

#include "qx/store/results_db.h"

namespace qx::store {

namespace {

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

// A claim of a process on this host that no longer exists is stale. A claim from another host
// cannot be checked and counts as live (a database shared between hosts is rare for SQLite).
bool owner_alive(const std::string& owner) {
  const auto colon = owner.rfind(':');
  if (colon == std::string::npos || owner.substr(0, colon) != host_name()) return true;
  const auto pid = static_cast<pid_t>(std::stol(owner.substr(colon + 1)));
  return kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace

std::string ResultsDb::claim_owner() { return fmt::format("{}:{}", host_name(), getpid()); }

bool ResultsDb::claim_cell(const std::string& key, const std::string& owner) {
  Transaction transaction(db_);  // BEGIN IMMEDIATE: check and claim under one write lock
  {
    Statement finished(db_, "SELECT 1 FROM cells WHERE key = ? AND status = 'finished'");
    if (finished.bind(1, key).step()) return false;
  }
  {
    Statement holder(db_, "SELECT owner FROM cell_claims WHERE key = ?");
    if (holder.bind(1, key).step()) {
      const auto current = holder.column_text(0);
      if (current != owner && owner_alive(current)) return false;
    }
  }
  Statement(db_, "INSERT OR REPLACE INTO cell_claims (key, owner) VALUES (?, ?)").bind(1, key).bind(2, owner).run();
  transaction.commit();
  return true;
}

void ResultsDb::release_claims(const std::string& owner) {
  Statement(db_, "DELETE FROM cell_claims WHERE owner = ?").bind(1, owner).run();
}

std::string ResultsDb::claim_holder(const std::string& key) {
  Statement holder(db_, "SELECT owner FROM cell_claims WHERE key = ?");
  return holder.bind(1, key).step() ? holder.column_text(0) : std::string();
}

}  // namespace qx::store
