// AVX2 copy of the attention tile primitives (attention_tiles.inc).
#define IV_VEC_FLOATS 8
#include "attention_tiles.inc"

namespace iv {
const AttnTilesF* attnTilesAvx2() {
  static const AttnTilesF tiles = {tileGemm, tileExpRows};
  return &tiles;
}
}  // namespace iv
