#pragma once
// Adds the finished cells of one results database to another: for cells computed elsewhere (a
// lent GPU machine, tools/device/) that belong in the reference database. Each cell comes with
// its experiment row, tensor records and pass records, renumbered; a cell whose key the target
// already holds is left out, so merging twice adds nothing. One transaction.
#include <cstdint>
#include <string>

#include "qx/store/results_db.h"

namespace qx::store {

struct MergeSummary {
  std::int64_t cells = 0;        // added
  std::int64_t experiments = 0;  // added, those that own an added cell
  std::int64_t skipped = 0;      // finished cells whose key `into` already held
};

// Fails, leaving `into` unchanged, where `from` is missing, not a results database, or at
// another schema version.
MergeSummary merge_results(ResultsDb& into, const std::string& from);

}  // namespace qx::store
