// Claims on cells, so that several `qx run` processes on one database never compute a cell twice,
// and the owners of experiment rows, so that a killed run's row does not stay `running`.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

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

void ResultsDb::fail_abandoned_experiments() {
  std::vector<std::pair<std::int64_t, std::string>> abandoned;
  {
    Statement running(db_, "SELECT id, owner FROM experiments WHERE status = 'running' AND owner IS NOT NULL");
    while (running.step()) {
      if (!owner_alive(running.column_text(1))) abandoned.emplace_back(running.column_int(0), running.column_text(1));
    }
  }
  for (const auto& [id, owner] : abandoned) {
    Statement(db_,
              "UPDATE experiments SET status = 'failed', error = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', "
              "'now') WHERE id = ? AND status = 'running'")
        .bind(1, fmt::format("interrupted: its process ({}) ended without finishing it", owner))
        .bind(2, id)
        .run();
    release_claims(owner);
  }
}

std::string ResultsDb::claim_holder(const std::string& key) {
  Statement holder(db_, "SELECT owner FROM cell_claims WHERE key = ?");
  return holder.bind(1, key).step() ? holder.column_text(0) : std::string();
}

}  // namespace qx::store
