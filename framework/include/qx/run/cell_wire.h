#pragma once
// A computed cell's result as bytes, for a worker process to send to the one that owns the
// database (the MPI farm, mpi_farm.h). Everything record_cell() stores travels: the key, the
// error, accuracy, timings, the passes that ran and every tensor's range and qparams. The cell's
// spec does not: the receiver has the same experiment file and fills it in from the cell's index.
// The bytes are one pickled dictionary (torch::pickle_save), as checkpoints are.
#include <cstddef>
#include <vector>

#include "qx/store/results_db.h"

namespace qx::run {

std::vector<char> encode_cell_result(std::size_t index, const store::CellResult& result);

struct DecodedCell {
  std::size_t index = 0;
  store::CellResult result;  // result.cell left default: the receiver sets it
};
// Throws qx::Error when the bytes are not an encoded cell result.
DecodedCell decode_cell_result(const std::vector<char>& bytes);

}  // namespace qx::run
