#pragma once
// `mpirun -np N qx run GRID.toml`: one experiment's cells spread over N processes.
//
// Rank 0 reads the grid, skips the cells the database has finished, and hands the rest out one at
// a time, the longest expected first (a cell's recorded time where the database has it). Every
// rank, rank 0 included, holds an ExperimentSession and computes cells; workers send each result
// back whole (cell_wire.h), and rank 0 alone opens SQLite and writes each cell in one transaction
// as it arrives. A worker's failing cell comes back as a failed cell with its message; a rank
// that dies ends the job, as MPI does, and every cell written before that is whole, so a rerun
// resumes. Every rank reads the checkpoint and the data itself: they must be on a filesystem all
// ranks share (docs/scaling.md).
#include "qx/run/ptq_runner.h"

namespace qx::run {

// True when an MPI launcher (mpirun, srun) started this process as one of several ranks.
bool launched_as_mpi_job();
// Whether this qx was built with MPI (QX_WITH_MPI).
bool mpi_available();

// Runs the experiment over every rank of MPI_COMM_WORLD; returns rank 0's summary on every rank.
// In a qx built without MPI it fails with a sentence that says so.
RunSummary run_ptq_experiment_mpi(const config::PtqExperiment& experiment, const PluginHost& host,
                                  const RunOverrides& overrides);

}  // namespace qx::run
