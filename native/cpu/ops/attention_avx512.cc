// AVX-512 copy of the attention tile primitives (attention_tiles.inc).
#define IV_VEC_FLOATS 16
#include "attention_tiles.inc"

namespace iv {
const AttnTilesF* attnTilesAvx512() {
  static const AttnTilesF tiles = {tileGemm, tileExpRows};
  return &tiles;
}
}  // namespace iv
