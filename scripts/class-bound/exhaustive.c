/* Exhaustive check of dino_matching_class_bound against dino_matching_class_cost (float32) and a float64
   reference, over every finite float32 logit (or every STRIDE-th bit pattern). */
#include "dino_kernels.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define CHUNK (1 << 20)
static float xs[CHUNK], lb[CHUNK], ex[CHUNK];
static double p1[CHUNK], p2[CHUNK];
int main(int argc, char **argv)
{
    const uint64_t stride = argc > 1 ? strtoull(argv[1], 0, 10) : 1;
    const double alphas[] = {0, 0.25, 1};
    const int na = 3;
    struct { double minSlackK, minSlackRef, gap8, gap12, gapAll, gap8K; float atK, atRef, at8, at12, atAll; } st[3];
    for (int a = 0; a < na; a++) { st[a].minSlackK = st[a].minSlackRef = INFINITY; st[a].gap8 = st[a].gap12 = st[a].gapAll = st[a].gap8K = -INFINITY; }
    dino_set_threads(1);
    uint64_t count = 0;
    for (uint64_t start = 0; start < (1ull << 32); start += (uint64_t)CHUNK * stride) {
        int n = 0;
        for (uint64_t b = start; b < start + (uint64_t)CHUNK * stride && b < (1ull << 32); b += stride) {
            uint32_t bits = (uint32_t)b; float x; memcpy(&x, &bits, 4);
            if (isfinite(x)) xs[n++] = x;
        }
        if (n < 8) continue;
        count += n;
        for (int i = 0; i < n; i++) {
            const double x = xs[i], p = 1 / (1 + exp(-x));
            p1[i] = (1 - p) * (1 - p) * -log(p + 1e-8);
            p2[i] = p * p * -log(1 - p + 1e-8);
        }
        for (int a = 0; a < na; a++) {
            const double al = alphas[a];
            dino_matching_class_cost(1, n, xs, al, ex);
            dino_matching_class_bound(1, n, xs, al, lb);
            for (int i = 0; i < n; i++) {
                const double ref = al * p1[i] - (1 - al) * p2[i];
                const double sk = (double)ex[i] - lb[i], sr = ref - lb[i];
                const float x = xs[i];
                if (sk < st[a].minSlackK) { st[a].minSlackK = sk; st[a].atK = x; }
                if (sr < st[a].minSlackRef) { st[a].minSlackRef = sr; st[a].atRef = x; }
                if (sr > st[a].gapAll) { st[a].gapAll = sr; st[a].atAll = x; }
                if (fabsf(x) <= 12 && sr > st[a].gap12) { st[a].gap12 = sr; st[a].at12 = x; }
                if (fabsf(x) <= 8 && sr > st[a].gap8) { st[a].gap8 = sr; st[a].at8 = x; }
                if (fabsf(x) <= 8 && sk > st[a].gap8K) st[a].gap8K = sk;
            }
        }
    }
    printf("%llu finite logits (stride %llu)\n", (unsigned long long)count, (unsigned long long)stride);
    for (int a = 0; a < na; a++)
        printf("alpha %.2f: min(kernel - LB) %.6g at %.9g; min(ref - LB) %.6g at %.9g; max gap |x|<=8 %.6f at %.6g (vs kernel %.6f); |x|<=12 %.6f at %.6g; all %.6f at %.6g\n",
               alphas[a], st[a].minSlackK, st[a].atK, st[a].minSlackRef, st[a].atRef, st[a].gap8, st[a].at8, st[a].gap8K,
               st[a].gap12, st[a].at12, st[a].gapAll, st[a].atAll);
    int bad = 0;
    for (int a = 0; a < na; a++) bad |= st[a].minSlackK < 0 || st[a].minSlackRef < 0;
    printf(bad ? "VIOLATED\n" : "valid\n");
    return bad;
}
