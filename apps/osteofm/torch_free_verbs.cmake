# The verbs that need no LibTorch, OpenCV or DCMTK: `osteofm` runs them itself, without
# loading those libraries (launcher_main.cpp). Every other cmd_*.cpp runs in osteofm-torch.
# A verb may join this list only if it and the library parts it calls include no LibTorch
# header; the launcher's link (no LibTorch on its line) is what checks it.
set(OSTEOFM_TORCH_FREE_VERBS cmd_eval.cpp cmd_compare.cpp cmd_table.cpp cmd_report.cpp)
