// Implicit-GEMM convolution forward, float32 on AVX-512. The im2col lowering (conv.cc)
// writes each input element kh * kw times into a column matrix, and the GEMM copies that
// again into its packed panels: at 64 output channels those copies cost about as much as
// the multiply-adds. Here each image is copied once, zero-padded and split into its stride
// phases (xq[c][a][b][u][v] = padded x[c][u * sh + a][v * sw + b]), which makes the values
// that a run of output positions reads for one kernel tap consecutive: row r = (c, i, j) of
// the column matrix is xq at rowOffset[r], over output positions laid out on a grid Wq wide
// (Wq >= Wo). The micro-kernel reads those rows in place (avx512::sgemmKernelOffsetB); the
// grid's columns past Wo are computed and dropped. The weights are packed once per call.
#include "conv_implicit.h"
#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <vector>
#include "../cpu_features.h"
#include "../gemm_kernels.h"
#include "../parallel.h"
#include "../scratch.h"

namespace iv {
namespace {

constexpr int64_t kMr = avx512::kSgemmMr, kNr = avx512::kSgemmNr, kKb = kGemmKBlock;
// K rows per block: a kernel's strip of B rows (kc x 32 floats, from a few input rows per
// channel) stays in L1 while every row tile of the weights passes over it.
constexpr int64_t kKc = 256;
// Fewest column-matrix rows (R) for this lowering (below it, ResNet-18's stem measured faster
// through im2col).
constexpr int64_t kMinRows = 64;
// The output tile a work item accumulates (Kg x chunk columns) stays within this.
constexpr int64_t kTileBytes = int64_t(128) << 10;
// Padded images per block when there are too few images to give each thread its own (a
// batch pads image by image on each thread): copied, then computed while still in cache.
constexpr int64_t kBlockBytes = int64_t(8) << 20;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

thread_local Scratch tlsImages, tlsWeights, tlsTile, tlsPanel, tlsReordered;

// A tile of output-channel rows: `rows` from row0, packed `width` rows wide (14, or the
// short kernel's 8 for 8 rows or fewer), its A micro-panel `lead` rows into a K block's.
struct RowTile {
  int64_t row0, rows, width, lead;
};

// Rows cut into 14- and 8-row tiles, so that 64 rows cost 4 x 14 + 8 instead of 5 x 14: the
// fewest rows of kernel time (ties: fewer short tiles), the short tiles last.
std::vector<RowTile> rowTiles(int64_t rows) {
  int64_t bestLong = 0, bestShort = 0, bestCost = -1;
  for (int64_t s = 0; s <= kMr; s++) {
    const int64_t l = ceilDiv(std::max<int64_t>(0, rows - s * avx512::kSgemmShortMr), kMr);
    const int64_t cost = l * kMr + s * avx512::kSgemmShortMr;
    if (bestCost < 0 || cost < bestCost) bestCost = cost, bestLong = l, bestShort = s;
  }
  std::vector<RowTile> tiles;
  int64_t row = 0, lead = 0;
  for (int64_t t = 0; t < bestLong + bestShort && row < rows; t++) {
    const int64_t cap = t < bestLong ? kMr : avx512::kSgemmShortMr, n = std::min(cap, rows - row);
    const int64_t width = n <= avx512::kSgemmShortMr ? avx512::kSgemmShortMr : kMr;
    tiles.push_back({row, n, width, lead});
    row += n;
    lead += width;
  }
  return tiles;
}

// The kernel's blocking of one forward product.
// The kernel's blocking of one product: its reduction in K blocks and its A rows in tiles
// (forward: the column matrix's R rows and the Kg output channels; weight gradient: the
// output positions and the Kg output channels).
struct Blocking {
  int64_t nkb, kcb;            // K blocks
  std::vector<RowTile> tiles;  // of the A rows
  int64_t width;               // the tiles' packed rows
  // Floats of one group's packed A: every K block's tiles.
  int64_t groupSize() const { return nkb * width * kcb; }
};

Blocking blockingOf(int64_t reduction, int64_t rows) {
  Blocking b;
  b.nkb = ceilDiv(reduction, kKc);
  b.kcb = roundUp(ceilDiv(reduction, b.nkb), kKb);
  b.tiles = rowTiles(rows);
  b.width = b.tiles.back().lead + b.tiles.back().width;
  return b;
}

}  // namespace

PaddedLayout paddedLayout(const ConvGeom& g) {
  PaddedLayout l;
  const int64_t Hp = std::max(g.pt + g.H, (g.Ho - 1) * g.sh + (g.kh - 1) * g.dh + 1);
  const int64_t Wp = std::max(g.pl + g.W, (g.Wo - 1) * g.sw + (g.kw - 1) * g.dw + 1);
  l.Hq = ceilDiv(Hp, g.sh);
  l.Wq = ceilDiv(Wp, g.sw);
  l.plane = g.sh * g.sw * l.Hq * l.Wq;
  l.Po = g.Ho * l.Wq;
  l.image = g.C * l.plane + roundUp(l.Po, kNr) + kNr;
  return l;
}

std::vector<int32_t> rowOffsets(const ConvGeom& g, const PaddedLayout& l) {
  const int64_t taps = g.kh * g.kw, phase = l.Hq * l.Wq, R = g.C / g.groups * taps;
  std::vector<int32_t> off(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; r++) {
    const int64_t c = r / taps, i = r % taps / g.kw, j = r % g.kw, di = i * g.dh, dj = j * g.dw;
    off[r] = static_cast<int32_t>(c * l.plane + (di % g.sh * g.sw + dj % g.sw) * phase + di / g.sh * l.Wq + dj / g.sw);
  }
  return off;
}

void padImage(const ConvGeom& g, const PaddedLayout& l, const float* x, int64_t c0, int64_t c1, float* dst) {
  const int64_t HW = g.H * g.W;
  for (int64_t c = c0; c < c1; c++) {
    const float* src = x + c * HW;
    float* plane = dst + c * l.plane;
    for (int64_t a = 0; a < g.sh; a++)
      for (int64_t b = 0; b < g.sw; b++) {
        float* ph = plane + (a * g.sw + b) * l.Hq * l.Wq;
        // Columns v read input column v * sw + b - pl: valid for v in [v0, v1).
        const int64_t v0 = std::min(l.Wq, ceilDiv(std::max<int64_t>(0, g.pl - b), g.sw));
        const int64_t v1 = std::max(v0, std::min(l.Wq, ceilDiv(g.W + g.pl - b, g.sw)));
        for (int64_t u = 0; u < l.Hq; u++) {
          float* row = ph + u * l.Wq;
          const int64_t h = u * g.sh + a - g.pt;
          if (h < 0 || h >= g.H || v0 == v1) {
            std::memset(row, 0, l.Wq * sizeof(float));
            continue;
          }
          std::memset(row, 0, v0 * sizeof(float));
          const float* in = src + h * g.W + v0 * g.sw + b - g.pl;
          if (g.sw == 1) std::memcpy(row + v0, in, (v1 - v0) * sizeof(float));
          else for (int64_t v = v0; v < v1; v++) row[v] = in[(v - v0) * g.sw];
          std::memset(row + v1, 0, (l.Wq - v1) * sizeof(float));
        }
      }
  }
  if (c1 == g.C) std::memset(dst + g.C * l.plane, 0, (l.image - g.C * l.plane) * sizeof(float));
}

void padImages(const ConvGeom& g, const PaddedLayout& l, const float* x, int64_t n0, int64_t nb, float* padded) {
  parallelFor(nb * g.C, 8, [&](int64_t a, int64_t b) {
    while (a < b) {
      const int64_t i = a / g.C, c0 = a % g.C, c1 = std::min(g.C, c0 + (b - a));
      padImage(g, l, x + (n0 + i) * g.C * g.H * g.W, c0, c1, padded + i * l.image);
      a += c1 - c0;
    }
  });
}

namespace {
// Copies a run of n floats: whole output rows of small planes (8 or 4 long), or up to a
// panel's 32 where rows join.
inline void copyRun(float* dst, const float* src, int64_t n) {
  if (n == 32) std::memcpy(dst, src, 32 * sizeof(float));
  else if (n == 16) std::memcpy(dst, src, 16 * sizeof(float));
  else if (n == 8) std::memcpy(dst, src, 8 * sizeof(float));
  else if (n == 4) std::memcpy(dst, src, 4 * sizeof(float));
  else std::memcpy(dst, src, n * sizeof(float));
}
}  // namespace

// The column matrix is never stored: one tap's values for an output row are consecutive in a
// padded image, so the panel's runs (output rows, or parts of them) are laid out once and
// copied for every row.
void fillColumnPanel(const ConvGeom& g, const PaddedLayout& l, const float* padded, const int32_t* off, int64_t gi,
                     int64_t k0, int64_t kc, int64_t j0, int64_t nr, int64_t NR, float* dst) {
  struct Run {
    int64_t dst, src, len;
  };
  constexpr int64_t kMaxRuns = 32;  // a panel is at most 32 positions wide
  Run runs[kMaxRuns];
  const int64_t P = g.Ho * g.Wo, group = g.C / g.groups * gi * l.plane;
  int64_t count = 0;
  // Output rows are runs of their own unless the padded rows are no wider (a kernel one
  // column wide, no padding), when a run goes on to the plane's end.
  const bool rowsJoin = l.Wq == g.Wo;
  for (int64_t j = 0; j < nr && count < kMaxRuns;) {
    const int64_t col = j0 + j, p = col % P, ho = p / g.Wo, wo = p % g.Wo;
    const int64_t len = std::min(nr - j, rowsJoin ? P - p : g.Wo - wo);
    runs[count++] = {j, col / P * l.image + group + ho * l.Wq + wo, len};
    j += len;
  }
  for (int64_t k = 0; k < kc; k++) {
    const float* base = padded + off[k0 + k];
    float* row = dst + k * NR;
    for (int64_t t = 0; t < count; t++) copyRun(row + runs[t].dst, base + runs[t].src, runs[t].len);
    std::fill(row + nr, row + NR, 0.0f);
  }
}

bool paddedLayoutFits(const ConvGeom& g) {
  return g.pt >= 0 && g.pl >= 0 && paddedLayout(g).image < std::numeric_limits<int32_t>::max();
}

namespace {

// A's rows for every group as the kernel's micro-panels: group gi, K block kb, row tile t at
// gi * groupSize + kb * width * kcb + t.lead * roundUp(kc, 8), zeros past a tile's rows and
// past the reduction. row(gi, r, k) points at row r's value at reduction step k; the values of
// steps k .. k + 7 lie consecutively where run(k) says so, and are copied as one run.
template <class Row, class Run>
void packRowTiles(int64_t groups, const Blocking& bk, int64_t reduction, float* packed, Row row, Run run) {
  const int64_t groupSize = bk.groupSize(), nt = static_cast<int64_t>(bk.tiles.size());
  const int64_t nkb = ceilDiv(reduction, bk.kcb);
  parallelFor(groups * nkb * nt, 2, [&](int64_t a, int64_t b) {
    for (int64_t it = a; it < b; it++) {
      const int64_t gi = it / (nkb * nt), kb = it / nt % nkb;
      const RowTile& t = bk.tiles[it % nt];
      const int64_t k0 = kb * bk.kcb, kc = std::min(bk.kcb, reduction - k0), kcp = roundUp(kc, kKb);
      float* p = packed + gi * groupSize + kb * bk.width * bk.kcb + t.lead * kcp;
      for (int64_t s = 0; s < kcp; s += kKb) {
        float* d = p + s / kKb * t.width * kKb;
        const bool whole = s + kKb <= kc && run(k0 + s);
        for (int64_t i = 0; i < t.width; i++) {
          float* di = d + i * kKb;
          if (i >= t.rows) std::memset(di, 0, kKb * sizeof(float));
          else if (whole) std::memcpy(di, row(gi, t.row0 + i, k0 + s), kKb * sizeof(float));
          else
            for (int64_t e = 0; e < kKb; e++) di[e] = s + e < kc ? *row(gi, t.row0 + i, k0 + s + e) : 0.0f;
        }
      }
    }
  });
}

// The weights of every group, [Kg, R] each, packed once per call (packRowTiles).
float* packWeights(const ConvGeom& g, const Blocking& bk, const float* w, int64_t Kg, int64_t R) {
  float* packed = tlsWeights.get<float>(g.groups * bk.groupSize());
  packRowTiles(
      g.groups, bk, R, packed, [&](int64_t gi, int64_t r, int64_t k) { return w + (gi * Kg + r) * R + k; },
      [](int64_t) { return true; });
  return packed;
}

// The forward's 32-column panels over the grid. Where Wo is 16 or a multiple of 32 they hold
// output positions only: a panel is two output rows of 16 (the kernel reads its second half
// Wq floats on) or 32 positions of one row, instead of 32 grid columns with the junk ones
// among them (2 of every 18 at 16 x 16 under a 3x3 kernel).
struct GridPanels {
  bool exact;          // columns are the output positions q * 32 ..
  int64_t count, half;  // panels; the offset of a panel's columns 16..31 from its 0..15
  int64_t Wo, Wq;
  // Grid position of panel q's first column.
  int64_t start(int64_t q) const {
    if (!exact) return q * kNr;
    return Wo == 16 ? 2 * q * Wq : q * kNr / Wo * Wq + q * kNr % Wo;
  }
};

GridPanels gridPanels(const ConvGeom& g, const PaddedLayout& l) {
  const bool exact = g.Wo == 16 || g.Wo % kNr == 0;
  return {exact, ceilDiv(exact ? g.Ho * g.Wo : l.Po, kNr), g.Wo == 16 ? l.Wq : 16, g.Wo, l.Wq};
}

void forwardCore(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, float* pre, Act act) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, R = Cg * g.kh * g.kw, P = g.Ho * g.Wo;
  const PaddedLayout l = paddedLayout(g);
  const Blocking bk = blockingOf(R, Kg);
  const GridPanels gp = gridPanels(g, l);
  const int64_t panels = gp.count;
  const std::vector<int32_t> off = rowOffsets(g, l);
  const float* packed = packWeights(g, bk, w, Kg, R);
  const int64_t groupSize = bk.groupSize();
  // Panels per work item: the item's output tile stays within kTileBytes.
  int64_t chunk = std::clamp<int64_t>(kTileBytes / (Kg * kNr * 4), 1, panels);
  // A batch of 4+ images per thread goes image by image on each thread (below); else few
  // images (inference at batch 1) take as many chunks per image as make the items a multiple
  // of the thread count, so no thread idles for a last odd item.
  const bool perImage = g.N >= 4 * numThreads();
  if (!perImage && g.N * G < 8 * numThreads())
    chunk = ceilDiv(panels, std::min(panels, roundUp(ceilDiv(panels, chunk), numThreads())));
  const int64_t chunks = ceilDiv(panels, chunk), ldt = chunk * kNr;
  // Panels [q0, q1) of image n, group gi, from its padded copy `image`, into y.
  auto compute = [&](const float* image, int64_t n, int64_t gi, int64_t q0, int64_t q1, float* tile) {
    const float* xg = image + gi * Cg * l.plane;
    const float* wg = packed + gi * groupSize;
    for (int64_t q = q0; q < q1; q++)
      for (int64_t kb = 0; kb < bk.nkb; kb++) {
        const int64_t k0 = kb * bk.kcb, kc = std::min(bk.kcb, R - k0), kcp = roundUp(kc, kKb);
        const float* wb = wg + kb * bk.width * bk.kcb;
        for (const RowTile& t : bk.tiles)
          avx512::sgemmKernelSplitB(kc, wb + t.lead * kcp, xg + gp.start(q), off.data() + k0, gp.half,
                                    tile + t.row0 * ldt + (q - q0) * kNr, ldt, kb == 0 ? 0.0f : 1.0f, t.rows, kNr);
      }
    if (gp.exact) {  // the tile's columns are positions [q0 * 32, ...)
      const int64_t p0 = q0 * kNr, len = std::min(P, q1 * kNr) - p0;
      for (int64_t k = 0; k < Kg; k++) {
        const int64_t o = (n * g.K + gi * Kg + k) * P + p0;
        std::memcpy(y + o, tile + k * ldt, len * sizeof(float));
        if (bias || pre || act != Act::none)
          epilogue(y + o, pre ? pre + o : nullptr, len, bias ? bias[gi * Kg + k] : 0.0f, act);
      }
      return;
    }
    // Rows of the grid that the positions [p0, p1) cover, without the columns past Wo, into y
    // (with the epilogue).
    const int64_t p0 = q0 * kNr, p1 = std::min(l.Po, q1 * kNr);
    for (int64_t ho = p0 / l.Wq; ho * l.Wq < p1; ho++) {
      const int64_t w0 = std::max<int64_t>(0, p0 - ho * l.Wq), w1 = std::min(g.Wo, p1 - ho * l.Wq);
      if (w0 >= w1) continue;
      for (int64_t k = 0; k < Kg; k++) {
        const int64_t o = (n * g.K + gi * Kg + k) * P + ho * g.Wo + w0;
        std::memcpy(y + o, tile + k * ldt + ho * l.Wq + w0 - p0, (w1 - w0) * sizeof(float));
        if (bias || pre || act != Act::none)
          epilogue(y + o, pre ? pre + o : nullptr, w1 - w0, bias ? bias[gi * Kg + k] : 0.0f, act);
      }
    }
  };

  // A batch: each thread pads one image at a time and computes all of it while the copy is in
  // its L2 (a shared block of padded images would go out to L3 and come back).
  if (perImage) {
    parallelFor(g.N, 1, [&](int64_t a, int64_t b) {
      float* image = tlsImages.get<float>(l.image);
      float* tile = tlsTile.get<float>(Kg * ldt);
      for (int64_t n = a; n < b; n++) {
        padImage(g, l, x + n * g.C * g.H * g.W, 0, g.C, image);
        for (int64_t gi = 0; gi < G; gi++)
          for (int64_t q0 = 0; q0 < panels; q0 += chunk) compute(image, n, gi, q0, std::min(panels, q0 + chunk), tile);
      }
    });
    return;
  }
  const int64_t block = std::clamp<int64_t>(kBlockBytes / (l.image * 4), 1, g.N);
  float* images = tlsImages.get<float>(block * l.image);
  for (int64_t n0 = 0; n0 < g.N; n0 += block) {
    const int64_t nb = std::min(block, g.N - n0);
    padImages(g, l, x, n0, nb, images);
    parallelFor(nb * G * chunks, 1, [&](int64_t a, int64_t b) {
      float* tile = tlsTile.get<float>(Kg * ldt);
      for (int64_t it = a; it < b; it++) {
        const int64_t i = it / (G * chunks), gi = it / chunks % G, q0 = it % chunks * chunk;
        compute(images + i * l.image, n0 + i, gi, q0, std::min(panels, q0 + chunk), tile);
      }
    });
  }
}

// ---- forward over small planes -----------------------------------------------------------
// At Ho Wo <= 64 a grid row Wq wide leaves much of a 32-column panel to junk columns (a 4x4
// output fills 16 of 32 on its 6-wide grid). Here a panel's columns are the output positions
// of consecutive images instead, gathered from the padded copies (fillColumnPanel) into a
// buffer per K block; the same micro-kernel reads it with row offsets k * 32, so the weights
// stay packed once per call in the 14- and 8-row tiles, shared by the threads.
constexpr int64_t kSmallPlane = 64;

}  // namespace

// A pointwise convolution whose planes are whole halves of a panel needs neither padded
// copies nor filled panels: the kernel reads each half of a panel's columns from x in place,
// 16 positions of one image, channel rows a plane apart.
bool pointwiseInPlace(const ConvGeom& g) {
  const int64_t P = g.Ho * g.Wo;
  if (activeIsa() != Isa::avx512 || g.C == g.groups || g.N == 0 || g.K / g.groups < kMr) return false;
  return isPointwise(g) && P <= kSmallPlane && P % 16 == 0 && g.C * P < std::numeric_limits<int32_t>::max();
}

namespace {

void smallPlaneForwardCore(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, float* pre,
                           Act act) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, R = Cg * g.kh * g.kw, P = g.Ho * g.Wo;
  const bool inPlace = pointwiseInPlace(g);
  const PaddedLayout l = paddedLayout(g);
  const Blocking bk = blockingOf(R, Kg);
  const std::vector<int32_t> off = rowOffsets(g, l);
  std::vector<int32_t> panelRows(bk.kcb);
  for (int64_t k = 0; k < bk.kcb; k++) panelRows[k] = static_cast<int32_t>(k * kNr);
  const float* packed = packWeights(g, bk, w, Kg, R);
  const int64_t groupSize = bk.groupSize();
  const int64_t block = inPlace ? g.N : std::clamp<int64_t>(kBlockBytes / (l.image * 4), 1, g.N);
  float* images = inPlace ? nullptr : tlsImages.get<float>(block * l.image);

  for (int64_t n0 = 0; n0 < g.N; n0 += block) {
    const int64_t nb = std::min(block, g.N - n0), columns = nb * P, panels = ceilDiv(columns, kNr);
    // Panels per work item: each row tile of weights is read once per item and K block, so
    // more panels read the weights less often; the item's output tile (Kg rows) stays within
    // two kTileBytes and its filled panels within one, both in L2.
    const int64_t fit = std::min(2 * kTileBytes / (Kg * kNr * 4), kTileBytes / (bk.kcb * kNr * 4));
    const int64_t chunk = std::clamp<int64_t>(fit, 1, ceilDiv(panels, numThreads()));
    const int64_t chunks = ceilDiv(panels, chunk), ldt = chunk * kNr;
    if (!inPlace) padImages(g, l, x, n0, nb, images);
    // In place: column j of the block is position j % P of image n0 + j / P.
    auto at = [&](int64_t gi, int64_t j) { return x + ((n0 + j / P) * g.C + gi * Cg) * P + j % P; };
    parallelFor(G * chunks, 1, [&](int64_t a, int64_t b) {
      float* tile = tlsTile.get<float>(Kg * ldt);
      float* filled = inPlace ? nullptr : tlsPanel.get<float>(chunk * bk.kcb * kNr);
      for (int64_t it = a; it < b; it++) {
        const int64_t gi = it / chunks, q0 = it % chunks * chunk, q1 = std::min(panels, q0 + chunk);
        const float* wg = packed + gi * groupSize;
        // Per K block: the item's panels filled, then each row tile of the weights (read from
        // L3 where they are large) over all of them while it is in L1.
        for (int64_t kb = 0; kb < bk.nkb; kb++) {
          const int64_t k0 = kb * bk.kcb, kc = std::min(bk.kcb, R - k0), kcp = roundUp(kc, kKb);
          if (!inPlace)
            for (int64_t q = q0; q < q1; q++)
              fillColumnPanel(g, l, images, off.data(), gi, k0, kc, q * kNr, std::min(kNr, columns - q * kNr), kNr,
                              filled + (q - q0) * kc * kNr);
          const float* wb = wg + kb * bk.width * bk.kcb;
          for (const RowTile& t : bk.tiles)
            for (int64_t q = q0; q < q1; q++) {
              const int64_t j = q * kNr, nr = std::min(kNr, columns - j);
              float* c = tile + t.row0 * ldt + (q - q0) * kNr;
              const float beta = kb == 0 ? 0.0f : 1.0f;
              if (inPlace) {
                // A last panel of 16 columns reads its first half twice, and stores it once.
                const float* b0 = at(gi, j);
                const int64_t half = nr > 16 ? at(gi, j + 16) - b0 : 0;
                avx512::sgemmKernelSplitB(kc, wb + t.lead * kcp, b0, off.data() + k0, half, c, ldt, beta, t.rows, nr);
              } else {
                avx512::sgemmKernelOffsetB(kc, wb + t.lead * kcp, filled + (q - q0) * kc * kNr, panelRows.data(), c,
                                           ldt, beta, t.rows, nr);
              }
            }
        }
        // The item's columns [j0, j1), image by image, into y (with the epilogue).
        const int64_t j0 = q0 * kNr, j1 = std::min(columns, q1 * kNr);
        for (int64_t j = j0; j < j1;) {
          const int64_t i = j / P, p = j % P, len = std::min(j1 - j, P - p);
          for (int64_t k = 0; k < Kg; k++) {
            const int64_t o = ((n0 + i) * g.K + gi * Kg + k) * P + p;
            std::memcpy(y + o, tile + k * ldt + j - j0, len * sizeof(float));
            if (bias || pre || act != Act::none)
              epilogue(y + o, pre ? pre + o : nullptr, len, bias ? bias[gi * Kg + k] : 0.0f, act);
          }
          j += len;
        }
      }
    });
  }
}

// Where the im2col lowering is as good: 1x1 kernels (their column matrix is the input, or a
// subsample of it, not kh * kw copies), fewer than one row tile of output channels, and
// short reductions (a stem's 3 x 3 x 3 rows: each kernel call then does little work).
bool applies(const ConvGeom& g) {
  if (activeIsa() != Isa::avx512 || g.C == g.groups || g.N == 0) return false;
  return g.kh * g.kw > 1 && g.K / g.groups >= kMr && g.C / g.groups * g.kh * g.kw >= kMinRows && paddedLayoutFits(g);
}

// ---- weight gradient ------------------------------------------------------------------
// gw[k, (c, i, j)] sums gy[k, p] x[c, ho sh + i dh - pt, wo sw + j dw - pl] over the images
// and output positions p = (ho, wo): a product whose reduction runs over positions. The
// images are copied padded and channels-last, so at position p and tap (i, j) the channels
// are consecutive floats: the kernel's B row for reduction step p is a run of 32 channels at
// posOffset[p] plus the tap's offset, read in place, and A is gy packed in row tiles over the
// positions. The product comes out tap-major ([k][i][j][c]) and is reordered into gw at the
// end. Each thread owns whole column panels (a tap's 32 channels), so no partial sums.

// An image padded and channels-last: pixel (u, v) of the padded plane at (u * Wp + v) * C.
struct ChannelsLast {
  int64_t Hp, Wp;
  int64_t image;  // floats per image: the pixels, then a panel's width that the last reads past
};

ChannelsLast channelsLast(const ConvGeom& g) {
  ChannelsLast l;
  l.Hp = std::max(g.pt + g.H, (g.Ho - 1) * g.sh + (g.kh - 1) * g.dh + 1);
  l.Wp = std::max(g.pl + g.W, (g.Wo - 1) * g.sw + (g.kw - 1) * g.dw + 1);
  l.image = l.Hp * l.Wp * g.C + kNr;
  return l;
}

// Padded rows [u0, u1) of image x into dst (one image's channels-last layout).
void padChannelsLast(const ConvGeom& g, const ChannelsLast& l, const float* x, int64_t u0, int64_t u1, float* dst) {
  const int64_t C = g.C, rowFloats = l.Wp * C;
  for (int64_t u = u0; u < u1; u++) {
    float* row = dst + u * rowFloats;
    const int64_t h = u - g.pt;
    if (h < 0 || h >= g.H) {
      std::memset(row, 0, rowFloats * sizeof(float));
      continue;
    }
    std::memset(row, 0, g.pl * C * sizeof(float));
    avx512::transpose(x + h * g.W, C, g.W, g.H * g.W, row + g.pl * C, C);
    std::memset(row + (g.pl + g.W) * C, 0, (l.Wp - g.pl - g.W) * C * sizeof(float));
  }
  if (u1 == l.Hp) std::memset(dst + l.Hp * rowFloats, 0, kNr * sizeof(float));
}

// Images [n0, n0 + nb) of x into consecutive channels-last layouts, padded rows over threads.
void padImagesChannelsLast(const ConvGeom& g, const ChannelsLast& l, const float* x, int64_t n0, int64_t nb,
                           float* images) {
  parallelFor(nb * l.Hp, 4, [&](int64_t a, int64_t b) {
    while (a < b) {
      const int64_t i = a / l.Hp, u0 = a % l.Hp, u1 = std::min(l.Hp, u0 + (b - a));
      padChannelsLast(g, l, x + (n0 + i) * g.C * g.H * g.W, u0, u1, images + i * l.image);
      a += u1 - u0;
    }
  });
}

bool appliesToWeightGrad(const ConvGeom& g) {
  if (activeIsa() != Isa::avx512 || g.C == g.groups || g.N * g.Ho * g.Wo == 0 || g.kh * g.kw == 1) return false;
  if (g.pt < 0 || g.pl < 0 || g.K / g.groups < avx512::kSgemmShortMr || g.C / g.groups < kNr) return false;
  return channelsLast(g).image < std::numeric_limits<int32_t>::max();
}

// Images per block: a block's channels-last copies and packed gy stay within this (per
// thread where each thread takes its own blocks).
constexpr int64_t kGradBlockBytes = int64_t(2) << 20;
// Where the product (gw, tap-major) is at most this, each thread takes whole blocks of images
// into its own copy of it, added up at the end: one thread's copies and packing (bound by
// memory) then overlap the other's products, with no join per block. Larger products are
// shared out by column, block after block.
constexpr int64_t kPerThreadProductBytes = int64_t(1) << 20;

void backwardWeightCore(const ConvGeom& g, const float* gy, const float* x, float* gw) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, taps = g.kh * g.kw, R = Cg * taps, P = g.Ho * g.Wo;
  const ChannelsLast l = channelsLast(g);
  const int64_t threads = numThreads(), size = g.K * R;
  const auto imagesPerBlock = [&](int64_t bytes) {
    return std::clamp<int64_t>(bytes / ((g.K * P + l.image) * 4), 1,
                               std::min(g.N, std::numeric_limits<int32_t>::max() / l.image));
  };
  bool perThread = threads > 1 && size * 4 <= kPerThreadProductBytes;
  int64_t nb = imagesPerBlock(perThread ? kGradBlockBytes / threads : kGradBlockBytes);
  if (perThread && ceilDiv(g.N, nb) < 2 * threads) perThread = false, nb = imagesPerBlock(kGradBlockBytes);
  // Reduction steps (output positions) of a full block: the offsets of the pixels they read
  // at tap (0, 0), in the block's channels-last images.
  const int64_t steps = nb * P;
  std::vector<int32_t> posOffset(static_cast<size_t>(steps));
  for (int64_t q = 0; q < steps; q++) {
    const int64_t n = q / P, ho = q % P / g.Wo, wo = q % g.Wo;
    posOffset[q] = static_cast<int32_t>(n * l.image + (ho * g.sh * l.Wp + wo * g.sw) * g.C);
  }
  const Blocking bk = blockingOf(steps, Kg);
  const int64_t groupSize = bk.groupSize();
  const int64_t cPanels = ceilDiv(Cg, kNr), columns = G * taps * cPanels;

  // Images [n0, n0 + m) into the product acc (row k of group gi, column tap * Cg + c), added
  // to it unless `first`. Threads share the work inside unless this runs on one of them.
  auto block = [&](int64_t n0, int64_t m, float* acc, bool first) {
    const int64_t ksteps = m * P;
    float* images = tlsImages.get<float>(nb * l.image);
    float* packed = tlsWeights.get<float>(G * groupSize);
    padImagesChannelsLast(g, l, x, n0, m, images);
    // gy of the block as A: row k of group gi at step q is gy[n0 + q / P][gi * Kg + k][q % P],
    // runs of 8 steps consecutive within an image.
    const int64_t nkb = ceilDiv(ksteps, bk.kcb);
    packRowTiles(
        G, bk, ksteps, packed,
        [&](int64_t gi, int64_t k, int64_t q) { return gy + ((n0 + q / P) * g.K + gi * Kg + k) * P + q % P; },
        [&](int64_t q) { return q % P + kKb <= P; });
    // A thread's columns inside each K block: the block's A panels stay in L2 while every
    // column passes over them.
    parallelFor(columns, 1, [&](int64_t a, int64_t b) {
      for (int64_t kb = 0; kb < nkb; kb++) {
        const int64_t k0 = kb * bk.kcb, kc = std::min(bk.kcb, ksteps - k0), kcp = roundUp(kc, kKb);
        const float* ab = packed + kb * bk.width * bk.kcb;
        const float beta = first && kb == 0 ? 0.0f : 1.0f;
        for (int64_t col = a; col < b; col++) {
          const int64_t gi = col / (taps * cPanels), tap = col / cPanels % taps, c0 = col % cPanels * kNr;
          const int64_t i = tap / g.kw, j = tap % g.kw, nr = std::min(kNr, Cg - c0);
          const float* bBase = images + (i * g.dh * l.Wp + j * g.dw) * g.C + gi * Cg + c0;
          for (const RowTile& t : bk.tiles)
            avx512::sgemmKernelOffsetB(kc, ab + gi * groupSize + t.lead * kcp, bBase, posOffset.data() + k0,
                                       acc + (gi * Kg + t.row0) * R + tap * Cg + c0, R, beta, t.rows, nr);
        }
      }
    });
  };

  // The products to add up into gw: one, or one per thread.
  const int64_t copies = perThread ? threads : 1;
  float* product = tlsTile.get<float>(copies * size);
  if (!perThread) {
    for (int64_t n0 = 0; n0 < g.N; n0 += nb) block(n0, std::min(nb, g.N - n0), product, n0 == 0);
  } else {
    // Threads claim blocks as they go, so one slowed down (another process on its core) takes
    // fewer.
    std::atomic<int64_t> next{0};
    const int64_t blocks = ceilDiv(g.N, nb);
    parallelFor(copies, 1, [&](int64_t a, int64_t b) {
      for (int64_t t = a; t < b; t++) {
        float* acc = product + t * size;
        bool first = true;
        for (int64_t bi; (bi = next.fetch_add(1, std::memory_order_relaxed)) < blocks; first = false)
          block(bi * nb, std::min(nb, g.N - bi * nb), acc, first);
        if (first) std::memset(acc, 0, size * sizeof(float));
      }
    });
    parallelFor(size, 4096, [&](int64_t a, int64_t b) {
      for (int64_t t = 1; t < copies; t++)
        for (int64_t e = a; e < b; e++) product[e] += product[t * size + e];
    });
  }
  parallelFor(g.K, 4, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++)
      for (int64_t c = 0; c < Cg; c++)
        for (int64_t tap = 0; tap < taps; tap++) gw[k * R + c * taps + tap] = product[k * R + tap * Cg + c];
  });
}

// ---- forward over small planes, channels-last, without the padding taps ------------------
// At a small plane many positions read only padding through some taps (a 4x4 output under a
// 3x3 kernel with padding 1: 44 of its 144 position-taps). Here the product is transposed:
// rows are output positions, columns output channels, and the reduction runs tap-major ((i,
// j), then c). The images are copied padded and channels-last, so a position's values for
// one tap are Cg consecutive floats: A packs them in runs of 8. Positions fall into classes by
// the taps whose input lies inside the image, and each class's product runs over the K
// blocks of its own taps only. B is the weights reordered once per call to [tap, c][k] (rows
// Kp wide, zeros past Kg), read in place by the offset-B micro-kernel.

struct TapClass {
  std::vector<int32_t> positions;  // p = ho * Wo + wo
  std::vector<int32_t> taps;       // those reading inside the image, ascending
};

// The output positions grouped by the taps that read inside the image. Classes that would
// fill less than a row tile over `images` images (at batch 1, the corners and edges of a
// small output) go into one class that reads every tap, padding included (zeros): their rows
// then share full tiles instead of each running a mostly empty one.
std::vector<TapClass> tapClasses(const ConvGeom& g, int64_t images) {
  std::vector<TapClass> classes;
  for (int64_t p = 0; p < g.Ho * g.Wo; p++) {
    const int64_t ho = p / g.Wo, wo = p % g.Wo;
    std::vector<int32_t> taps;
    for (int64_t t = 0; t < g.kh * g.kw; t++) {
      const int64_t h = ho * g.sh - g.pt + t / g.kw * g.dh, w = wo * g.sw - g.pl + t % g.kw * g.dw;
      if (h >= 0 && h < g.H && w >= 0 && w < g.W) taps.push_back(static_cast<int32_t>(t));
    }
    auto it = std::find_if(classes.begin(), classes.end(), [&](const TapClass& c) { return c.taps == taps; });
    if (it == classes.end()) it = classes.insert(classes.end(), TapClass{{}, taps});
    it->positions.push_back(static_cast<int32_t>(p));
  }
  const auto small = [&](const TapClass& c) { return images * static_cast<int64_t>(c.positions.size()) < kMr; };
  if (std::count_if(classes.begin(), classes.end(), small) < 2) return classes;
  TapClass merged;
  for (int32_t t = 0; t < g.kh * g.kw; t++) merged.taps.push_back(t);
  for (const TapClass& c : classes)
    if (small(c)) merged.positions.insert(merged.positions.end(), c.positions.begin(), c.positions.end());
  classes.erase(std::remove_if(classes.begin(), classes.end(), small), classes.end());
  classes.push_back(std::move(merged));
  return classes;
}

// Channels per K block: Cg in equal blocks of at most kKc (a multiple of 8 where Cg allows),
// so no block straddles two taps.
int64_t channelBlock(int64_t Cg) {
  int64_t b = ceilDiv(Cg, kKc);
  while (Cg % b || (Cg % kKb == 0 && Cg / b % kKb)) b++;
  return Cg / b;
}

// Where it measured faster than smallPlaneForwardCore: 32+ input channels per group, and 256+
// output channels, or 128+ where a fifth of the position-taps read only padding (a 4x4
// output under a 3x3 kernel).
bool appliesChannelsLast(const ConvGeom& g) {
  const int64_t Cg = g.C / g.groups, Kg = g.K / g.groups, R = g.kh * g.kw * Cg, Kp = roundUp(Kg, kNr);
  if (g.Ho * g.Wo > kSmallPlane || Cg < 32 || Kg < 128 || g.pt < 0 || g.pl < 0) return false;
  if (R * Kp >= std::numeric_limits<int32_t>::max() || channelsLast(g).image >= std::numeric_limits<int32_t>::max())
    return false;
  if (Kg >= 256) return true;
  int64_t read = 0;
  for (const TapClass& c : tapClasses(g, g.N)) read += static_cast<int64_t>(c.positions.size() * c.taps.size());
  return read <= g.Ho * g.Wo * g.kh * g.kw * 4 / 5;
}

// B of the channels-last product, each group's Kg output channels in panels of 32 columns,
// each panel [(c * taps + t)][32] (zeros past Kg): the weights transposed in 16 x 16 register
// tiles, so that a K block of one panel is a few dozen KB that stays in L1 while every row
// tile of A passes over it. With `flipped`, w is the weights of the convolution whose input
// gradient this forward is ([Cg][Kg][kh][kw] per group, in this forward's names): row
// c * taps + t then holds tap t of the original kernel, which this forward reads as its tap
// taps - 1 - t (reorderedRowOffsets), so no flipped copy is made.
void reorderWeights(const ConvGeom& g, const float* w, bool flipped, float* wt) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, taps = g.kh * g.kw, R = taps * Cg;
  const int64_t panels = ceilDiv(Kg, kNr);
  parallelFor(G * panels, 1, [&](int64_t a, int64_t b) {
    for (int64_t it = a; it < b; it++) {
      const int64_t gi = it / panels, k0 = it % panels * kNr, cols = std::min(kNr, Kg - k0);
      float* panel = wt + (gi * panels + it % panels) * R * kNr;
      if (cols < kNr) std::memset(panel, 0, R * kNr * sizeof(float));
      if (!flipped) {
        avx512::transpose(w + (gi * Kg + k0) * R, cols, R, R, panel, kNr);
        continue;
      }
      // Output channel k here is input channel k of the original kernel: for each of its
      // output channels c, a run of taps floats at ((gi * Cg + c) * Kg + k) * taps.
      for (int64_t c = 0; c < Cg; c++)
        avx512::transpose(w + ((gi * Cg + c) * Kg + k0) * taps, cols, taps, taps, panel + c * taps * kNr, kNr);
    }
  });
}

// The kernel's B row for reduction step t * Cg + c (tap-major): row c * taps + t of a panel,
// or for flipped weights, c * taps + taps - 1 - t.
std::vector<int32_t> reorderedRowOffsets(const ConvGeom& g, bool flipped) {
  const int64_t Cg = g.C / g.groups, taps = g.kh * g.kw, R = taps * Cg;
  std::vector<int32_t> off(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; r++) {
    const int64_t t = r / Cg, c = r % Cg;
    off[r] = static_cast<int32_t>((c * taps + (flipped ? taps - 1 - t : t)) * kNr);
  }
  return off;
}

// Rows ahead whose values the channels-last forward's packing fetches while it copies one.
constexpr int64_t kPrefetchRows = 3;

void channelsLastForwardCore(const ConvGeom& g, const float* x, const float* w, bool flipped, const float* bias,
                             float* y, float* pre, Act act) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, taps = g.kh * g.kw, R = taps * Cg, P = g.Ho * g.Wo;
  const int64_t Kp = roundUp(Kg, kNr), kcb = channelBlock(Cg), kcp = roundUp(kcb, kKb), perTap = Cg / kcb;
  const ChannelsLast l = channelsLast(g);
  const int64_t block = std::clamp<int64_t>(kBlockBytes / (l.image * 4), 1, g.N);
  const std::vector<TapClass> classes = tapClasses(g, block);
  float* wt = tlsReordered.get<float>(G * R * Kp);
  reorderWeights(g, w, flipped, wt);
  const std::vector<int32_t> rowOffset = reorderedRowOffsets(g, flipped);
  // Positions per work item: its output tile (rows x Kp) within four kTileBytes. Each item
  // reads all of B, so larger items read it less often (measured on 512 -> 512 at 4x4).
  const int64_t rowsPerItem = std::max<int64_t>(kMr, 4 * kTileBytes / (Kp * 4) / kMr * kMr);
  float* images = tlsImages.get<float>(block * l.image);

  for (int64_t n0 = 0; n0 < g.N; n0 += block) {
    const int64_t nb = std::min(block, g.N - n0);
    padImagesChannelsLast(g, l, x, n0, nb, images);
    struct Item {
      int64_t gi, cls, r0, r1;  // rows r: image r / positions, position r % positions
    };
    std::vector<Item> items;
    for (int64_t gi = 0; gi < G; gi++)
      for (int64_t ci = 0; ci < static_cast<int64_t>(classes.size()); ci++) {
        const int64_t rows = nb * static_cast<int64_t>(classes[ci].positions.size());
        // Equal items, not full ones and a sliver (each reads all of B), and as many as a
        // multiple of the threads where they stay a row tile or more: a class's items then
        // share out evenly (the remainder of a 64-image 256->512 stride-2 layer's classes
        // left one thread 5% more work).
        const int64_t count = std::min(roundUp(ceilDiv(rows, rowsPerItem), numThreads()),
                                       std::max(ceilDiv(rows, rowsPerItem), rows / kMr));
        const int64_t size = ceilDiv(rows, count);
        for (int64_t r = 0; r < rows; r += size) items.push_back({gi, ci, r, std::min(rows, r + size)});
      }
    // Items differ in size (a class's taps), so threads claim them one at a time, the largest
    // first (so the last ones claimed are small and the threads finish together).
    std::stable_sort(items.begin(), items.end(), [&](const Item& a, const Item& b) {
      return (a.r1 - a.r0) * classes[a.cls].taps.size() > (b.r1 - b.r0) * classes[b.cls].taps.size();
    });
    std::atomic<int64_t> next{0};
    const int64_t count = static_cast<int64_t>(items.size());
    parallelFor(std::min<int64_t>(numThreads(), count), 1, [&](int64_t, int64_t) {
      float* tile = tlsTile.get<float>(rowsPerItem * Kp);
      for (int64_t it; (it = next.fetch_add(1, std::memory_order_relaxed)) < count;) {
        const Item& item = items[it];
        const TapClass& cls = classes[item.cls];
        const int64_t npos = static_cast<int64_t>(cls.positions.size()), rows = item.r1 - item.r0;
        const std::vector<RowTile> tiles = rowTiles(rows);
        const int64_t width = tiles.back().lead + tiles.back().width;
        // Per K block (tap, channel block): A packed by row tile, [k / 8][tile rows][8], then
        // the product over every panel of B while that block is in L2.
        const int64_t nblocks = static_cast<int64_t>(cls.taps.size()) * perTap;
        float* packed = tlsPanel.get<float>(width * kcp);
        const float* wg = wt + item.gi * R * Kp;
        if (nblocks == 0)
          for (int64_t r = 0; r < rows; r++) std::fill(tile + r * Kp, tile + (r + 1) * Kp, 0.0f);
        for (int64_t bi = 0; bi < nblocks; bi++) {
          const int64_t t = cls.taps[bi / perTap], c0 = bi % perTap * kcb, ti = t / g.kw, tj = t % g.kw;
          // Item row r's kcb channels for this block, consecutive in its channels-last image.
          const auto source = [&](int64_t r) {
            const int64_t i = r / npos, p = cls.positions[r % npos];
            const int64_t u = p / g.Wo * g.sh + ti * g.dh, v = p % g.Wo * g.sw + tj * g.dw;
            return images + i * l.image + (u * l.Wp + v) * g.C + item.gi * Cg + c0;
          };
          for (const RowTile& rt : tiles) {
            float* dst = packed + rt.lead * kcp;
            // A few rows ahead fetched meanwhile: an item's images outgrow L2, and the copies
            // waited on L3 (the largest cost outside the products in the 256->512 stride-2
            // layer).
            for (int64_t rr = 0; rr < rt.rows; rr++) {
              const int64_t r = item.r0 + rt.row0 + rr;
              avx512::packRuns8(source(r), kcb, dst + rr * kKb, rt.width * kKb,
                                source(std::min(item.r1 - 1, r + kPrefetchRows)));
            }
            for (int64_t rr = rt.rows; rr < rt.width; rr++)  // the short tile's rows past its positions
              for (int64_t k8 = 0; k8 < kcp; k8 += kKb) std::fill_n(dst + k8 * rt.width + rr * kKb, kKb, 0.0f);
          }
          const int64_t k0 = t * Cg + c0;
          for (int64_t q = 0; q < Kp; q += kNr)
            for (const RowTile& rt : tiles)
              avx512::sgemmKernelOffsetB(kcb, packed + rt.lead * kcp, wg + q * R, rowOffset.data() + k0,
                                         tile + rt.row0 * Kp + q, Kp, bi == 0 ? 0.0f : 1.0f, rt.rows, kNr);
        }
        // Rows (positions) into y's planes.
        for (int64_t r = 0; r < rows; r++) {
          const int64_t i = (item.r0 + r) / npos, p = cls.positions[(item.r0 + r) % npos];
          float* yo = y + ((n0 + i) * g.K + item.gi * Kg) * P + p;
          for (int64_t k = 0; k < Kg; k++) yo[k * P] = tile[r * Kp + k];
        }
      }
    });
    if (bias || pre || act != Act::none)
      parallelFor(nb * g.K, 16, [&](int64_t a, int64_t b) {
        for (int64_t r = a; r < b; r++) {
          const int64_t o = (n0 * g.K + r) * P;
          epilogue(y + o, pre ? pre + o : nullptr, P, bias ? bias[r % g.K] : 0.0f, act);
        }
      });
  }
}

}  // namespace

bool implicitConvForward(const ConvGeom& g, const float* x, const float* w, bool flipped, const float* bias, float* y,
                         float* pre, Act act) {
  if (pointwiseInPlace(g)) {
    smallPlaneForwardCore(g, x, flipped ? flipKernel(g, w) : w, bias, y, pre, act);
    return true;
  }
  if (!applies(g)) return false;
  if (appliesChannelsLast(g)) {
    channelsLastForwardCore(g, x, w, flipped, bias, y, pre, act);
    return true;
  }
  if (flipped) w = flipKernel(g, w);
  if (g.Ho * g.Wo <= kSmallPlane) smallPlaneForwardCore(g, x, w, bias, y, pre, act);
  else forwardCore(g, x, w, bias, y, pre, act);
  return true;
}

bool implicitConvBackwardWeight(const ConvGeom& g, const float* gy, const float* x, float* gw) {
  if (!appliesToWeightGrad(g)) return false;
  backwardWeightCore(g, gy, x, gw);
  return true;
}

}  // namespace iv
