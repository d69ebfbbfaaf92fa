# Read by ctest after the discovered Catch2 cases (TEST_INCLUDE_FILES, tests/CMakeLists.txt):
# the seconds the long cases take on 2 cores, so that `ctest -j` starts them first. ctest
# learns costs after a run (Testing/Temporary/CTestCostData.txt), which a fresh clone such
# as CI's lacks: it then ran them last, in file order, and the campaign waited for the
# validation case (a 387 s tail of a 589 s run whose cases sum to 1018 s).
foreach(seed 1 2 3)
  set_tests_properties(
    "validation, training seed ${seed}: bone vs marker vs spine-signal model on Δbone, CAM share and add-backs"
    PROPERTIES COST 145)
endforeach()
set_tests_properties("demo: twelve variants end to end, then resumes" PROPERTIES COST 60)
set_tests_properties("sweep: Slurm executor runs one job-array task per variant on a real Slurm" PROPERTIES COST 60)
set_tests_properties("sweep: on Slurm a grid is one array, the selection a job after it, the seed runs a second array"
                     PROPERTIES COST 60)
set_tests_properties("sweep: nested selection on validation over a grid, seeds, and the table's selection and spread"
                     PROPERTIES COST 50)
set_tests_properties("reproduce: on Slurm every stage is a job after the one before, from a manifest without a split to the table"
                     PROPERTIES COST 45)
