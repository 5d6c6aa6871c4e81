#pragma once
#include "../cpu/cpu_features.h"

namespace iv {
void setActiveIsaForBench(Isa isa);
}
