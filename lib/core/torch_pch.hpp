// Precompiled header for the translation units of the osteofm library.
#pragma once
#include <torch/torch.h>
