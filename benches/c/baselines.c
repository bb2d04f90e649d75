/*
 * C baselines for the benchmarks, written for this project from the descriptions in
 * mixing-perf.md (no code from the projects themselves). Compiled by build.rs with
 * -O3 -march=native, like Asterisk's default build.
 *
 * Each function is the described hot loop of one system over a whole conference and
 * one frame, with the data already in memory. Everything around the loops that the
 * real systems also pay for (locks, smoothers, frame duplication and queueing,
 * syscalls, timers) is left out, so these baselines are, if anything, faster than
 * the real thing; none is weaker than the described algorithm.
 *
 * Layout: participant p's frame of `s` samples is at in[p * s], out[p * s].
 * talking[p] != 0 marks a participant that contributes audio this frame.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* One conference of n participants and s samples per frame, with every scratch buffer
 * any baseline needs (allocated and owned by the Rust side, see benches/src/lib.rs). */
struct bl_conf {
    size_t n, s;
    const uint8_t *talking; /* n flags */
    int16_t *lin;           /* n * s: decoded inputs */
    int16_t *out;           /* n * s: linear outputs (final_buf / write_frame) */
    uint8_t *out_law;       /* n * s: encoded outputs */
    int16_t *mix;           /* s: Asterisk's mixing buffer */
    uint8_t *shared_law;    /* s: Asterisk's shared encoded frame */
    int32_t *main_frame;    /* s: FreeSWITCH's 32-bit sum */
    int16_t *conflast;      /* n * 8: DAHDI's "amount actually added" */
};

/* -------------------------------------------------------------------------------
 * G.711 table codec: a 256-entry decode table and a 16384-entry encode table indexed
 * by ((uint16_t)x) >> 2, the layout Asterisk (__ast_lin2mu) and DAHDI
 * (__dahdi_lin2mu) use. Filled from the G.191 algorithm at start-up.
 * ----------------------------------------------------------------------------- */
static int16_t ulaw_dec[256], alaw_dec[256];
static uint8_t ulaw_enc[16384], alaw_enc[16384];

static uint8_t g191_ulaw(int x)
{
    int absno = (x < 0 ? (~x) >> 2 : x >> 2) + 33;
    if (absno > 0x1FFF)
        absno = 0x1FFF;
    int segno = 1;
    for (int i = absno >> 6; i; i >>= 1)
        segno++;
    int code = ((8 - segno) << 4) | (0xF - ((absno >> segno) & 0xF));
    return (uint8_t)(x >= 0 ? code | 0x80 : code);
}

static uint8_t g191_alaw(int x)
{
    int ix = x < 0 ? (~x) >> 4 : x >> 4;
    if (ix > 15) {
        int e = 1;
        while (ix > 31) {
            ix >>= 1;
            e++;
        }
        ix = (ix - 16) + (e << 4);
    }
    if (x >= 0)
        ix |= 0x80;
    return (uint8_t)(ix ^ 0x55);
}

static int16_t g191_ulaw_dec(uint8_t c)
{
    int u = ~c & 0xFF, e = (u >> 4) & 7, m = u & 0xF;
    int mag = (((m << 3) + 0x84) << e) - 0x84;
    return (int16_t)((u & 0x80) ? -mag : mag);
}

static int16_t g191_alaw_dec(uint8_t c)
{
    int a = c ^ 0x55, e = (a >> 4) & 7, m = a & 0xF;
    int mag = e ? ((m << 4) + 0x108) << (e - 1) : (m << 4) + 8;
    return (int16_t)((a & 0x80) ? mag : -mag);
}

void bl_g711_init(void)
{
    for (int i = 0; i < 256; i++) {
        ulaw_dec[i] = g191_ulaw_dec((uint8_t)i);
        alaw_dec[i] = g191_alaw_dec((uint8_t)i);
    }
    for (int i = 0; i < 16384; i++) {
        int x = (int16_t)(uint16_t)(i << 2);
        ulaw_enc[i] = g191_ulaw(x);
        alaw_enc[i] = g191_alaw(x);
    }
}

void bl_ulaw_decode(const uint8_t *src, int16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = ulaw_dec[src[i]];
}

void bl_ulaw_encode(const int16_t *src, uint8_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = ulaw_enc[((uint16_t)src[i]) >> 2];
}

void bl_alaw_decode(const uint8_t *src, int16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = alaw_dec[src[i]];
}

void bl_alaw_encode(const int16_t *src, uint8_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = alaw_enc[((uint16_t)src[i]) >> 2];
}

/* Saturating helpers in the style of Asterisk's ast_slinear_saturated_add/subtract
 * and DAHDI's generic ACSS/SCSS: widen to int, add, clamp. */
ALWAYS_INLINE void sat_add(int16_t *input, const int16_t *value)
{
    int res = (int)*input + *value;
    if (res > 32767)
        *input = 32767;
    else if (res < -32768)
        *input = -32768;
    else
        *input = (int16_t)res;
}

ALWAYS_INLINE void sat_sub(int16_t *input, const int16_t *value)
{
    int res = (int)*input - *value;
    if (res > 32767)
        *input = 32767;
    else if (res < -32768)
        *input = -32768;
    else
        *input = (int16_t)res;
}

/* -------------------------------------------------------------------------------
 * Asterisk bridge_softmix (mixing-perf.md section 1): sum the contributing channels
 * with a saturating add per sample; then for every channel copy the mix into its
 * final buffer and, if it contributed, saturating-subtract its own audio.
 * Non-contributors share one encoded frame per codec (softmix_translate_helper).
 * ----------------------------------------------------------------------------- */
static void asterisk_sum(size_t n, size_t s, const int16_t *in, const uint8_t *talking,
                         int16_t *mix)
{
    memset(mix, 0, s * sizeof(int16_t));
    for (size_t idx = 0; idx < n; idx++) {
        if (!talking[idx])
            continue;
        const int16_t *b = in + idx * s;
        for (size_t x = 0; x < s; x++)
            sat_add(mix + x, b + x);
    }
}

void bl_asterisk_linear(const struct bl_conf *c, const int16_t *in)
{
    size_t n = c->n, s = c->s;
    const uint8_t *talking = c->talking;
    int16_t *out = c->out, *mix = c->mix;
    asterisk_sum(n, s, in, talking, mix);
    for (size_t idx = 0; idx < n; idx++) {
        int16_t *final_buf = out + idx * s;
        memcpy(final_buf, mix, s * sizeof(int16_t));
        if (talking[idx]) {
            const int16_t *own = in + idx * s;
            for (size_t i = 0; i < s; i++)
                sat_sub(final_buf + i, own + i);
        }
    }
}

/* mu-law in and out: contributors' frames are translated to slin on the way in;
 * each contributor's mix-minus is encoded on its own, the rest share one encoding. */
void bl_asterisk_ulaw(const struct bl_conf *c, const uint8_t *in_law)
{
    size_t n = c->n, s = c->s;
    const uint8_t *talking = c->talking;
    int16_t *lin = c->lin, *final_bufs = c->out, *mix = c->mix;
    uint8_t *out_law = c->out_law, *shared_law = c->shared_law;
    for (size_t idx = 0; idx < n; idx++)
        if (talking[idx])
            bl_ulaw_decode(in_law + idx * s, lin + idx * s, s);
    asterisk_sum(n, s, lin, talking, mix);
    int shared_done = 0;
    for (size_t idx = 0; idx < n; idx++) {
        int16_t *final_buf = final_bufs + idx * s;
        memcpy(final_buf, mix, s * sizeof(int16_t));
        if (talking[idx]) {
            const int16_t *own = lin + idx * s;
            for (size_t i = 0; i < s; i++)
                sat_sub(final_buf + i, own + i);
            bl_ulaw_encode(final_buf, out_law + idx * s, s);
        } else if (!shared_done) {
            bl_ulaw_encode(final_buf, shared_law, s);
            shared_done = 1;
        }
    }
}

/* -------------------------------------------------------------------------------
 * FreeSWITCH mod_conference (mixing-perf.md section 3): a 32-bit main_frame summed
 * over members with audio; for every member, subtract its own audio if it had any,
 * clamp (switch_normalize_to_16bit) and write its frame. Every member gets its own
 * buffer and its own encoder; there is no shared encoding.
 * ----------------------------------------------------------------------------- */
static void freeswitch_mix(size_t n, size_t s, const int16_t *in, const uint8_t *talking,
                           int16_t *out, int32_t *main_frame)
{
    memset(main_frame, 0, s * sizeof(int32_t));
    for (size_t m = 0; m < n; m++) {
        if (!talking[m])
            continue;
        const int16_t *bptr = in + m * s;
        for (size_t x = 0; x < s; x++)
            main_frame[x] += (int32_t)bptr[x];
    }
    for (size_t m = 0; m < n; m++) {
        const int16_t *bptr = in + m * s;
        int16_t *write_frame = out + m * s;
        int has_audio = talking[m];
        for (size_t x = 0; x < s; x++) {
            int32_t z = main_frame[x];
            if (has_audio)
                z -= (int32_t)bptr[x];
            if (z > 32767)
                z = 32767;
            else if (z < -32768)
                z = -32768;
            write_frame[x] = (int16_t)z;
        }
    }
}

/* -------------------------------------------------------------------------------
 * Memory floor, not a mixer: every participant's input row copied to its output
 * row with memcpy. Any mix-minus that writes each participant's frame to a buffer
 * of its own reads at least every input once and writes every output once, so it
 * cannot beat this; the tables print it next to the mixers so that the ratios can
 * be read against what the machine's memory allows.
 * ----------------------------------------------------------------------------- */
void bl_copy_linear(const struct bl_conf *c, const int16_t *in)
{
    for (size_t m = 0; m < c->n; m++)
        memcpy(c->out + m * c->s, in + m * c->s, c->s * sizeof(int16_t));
}

void bl_freeswitch_linear(const struct bl_conf *c, const int16_t *in)
{
    freeswitch_mix(c->n, c->s, in, c->talking, c->out, c->main_frame);
}

/* Member input threads decode what arrives; every member's output is encoded. (The
 * real G.711 code computes the segment with bsr; the table codec used here is
 * faster, which only makes the baseline stronger.) */
void bl_freeswitch_ulaw(const struct bl_conf *c, const uint8_t *in_law)
{
    size_t n = c->n, s = c->s;
    const uint8_t *talking = c->talking;
    int16_t *lin = c->lin, *lin_out = c->out;
    uint8_t *out_law = c->out_law;
    int32_t *main_frame = c->main_frame;
    for (size_t m = 0; m < n; m++)
        if (talking[m])
            bl_ulaw_decode(in_law + m * s, lin + m * s, s);
    freeswitch_mix(n, s, lin, talking, lin_out, main_frame);
    for (size_t m = 0; m < n; m++)
        bl_ulaw_encode(lin_out + m * s, out_law + m * s, s);
}

/* -------------------------------------------------------------------------------
 * DAHDI in-kernel conferencing (mixing-perf.md section 2): the frame is processed in
 * 8-sample chunks (one per 1 ms tick). Per chunk the conference sum is cleared
 * (rotate_sums), every talker adds "the amount actually added" (three saturating
 * passes and two copies), and every listener removes its own contribution and adds
 * the sum (two passes). Non-talkers' conflast stays zero.
 * ----------------------------------------------------------------------------- */
#define CHUNK 8

ALWAYS_INLINE void ACSS(int16_t *dst, const int16_t *src)
{
    for (int x = 0; x < CHUNK; x++)
        sat_add(dst + x, src + x);
}

ALWAYS_INLINE void SCSS(int16_t *dst, const int16_t *src)
{
    for (int x = 0; x < CHUNK; x++)
        sat_sub(dst + x, src + x);
}

ALWAYS_INLINE void dahdi_talk(int16_t *sums, const int16_t *putlin, int16_t *conflast)
{
    int16_t k[CHUNK];
    memcpy(k, putlin, sizeof k);
    ACSS(k, sums);
    memcpy(conflast, k, sizeof k);
    SCSS(conflast, sums);
    ACSS(sums, conflast);
}

ALWAYS_INLINE void dahdi_listen(const int16_t *sums, const int16_t *conflast,
                                int16_t *getlin)
{
    memset(getlin, 0, CHUNK * sizeof(int16_t));
    SCSS(getlin, conflast);
    ACSS(getlin, sums);
}

void bl_dahdi_linear(const struct bl_conf *c, const int16_t *in)
{
    size_t n = c->n, s = c->s;
    const uint8_t *talking = c->talking;
    int16_t *out = c->out, *conflast = c->conflast;
    int16_t sums[CHUNK];
    for (size_t c = 0; c + CHUNK <= s; c += CHUNK) {
        memset(sums, 0, sizeof sums);
        for (size_t p = 0; p < n; p++)
            if (talking[p])
                dahdi_talk(sums, in + p * s + c, conflast + p * CHUNK);
        for (size_t p = 0; p < n; p++)
            dahdi_listen(sums, conflast + p * CHUNK, out + p * s + c);
    }
}

/* The kernel's data path is companded: putlin = DAHDI_XLAW(rx) for talkers, and
 * tx = DAHDI_LIN2X(getlin) for every listener, 8 samples at a time. */
void bl_dahdi_ulaw(const struct bl_conf *c, const uint8_t *in_law)
{
    size_t n = c->n, s = c->s;
    const uint8_t *talking = c->talking;
    uint8_t *out_law = c->out_law;
    int16_t *conflast = c->conflast;
    int16_t sums[CHUNK];
    for (size_t c = 0; c + CHUNK <= s; c += CHUNK) {
        memset(sums, 0, sizeof sums);
        for (size_t p = 0; p < n; p++) {
            if (talking[p]) {
                int16_t putlin[CHUNK];
                const uint8_t *rxb = in_law + p * s + c;
                for (int x = 0; x < CHUNK; x++)
                    putlin[x] = ulaw_dec[rxb[x]];
                dahdi_talk(sums, putlin, conflast + p * CHUNK);
            }
        }
        for (size_t p = 0; p < n; p++) {
            int16_t getlin[CHUNK];
            dahdi_listen(sums, conflast + p * CHUNK, getlin);
            uint8_t *txb = out_law + p * s + c;
            for (int x = 0; x < CHUNK; x++)
                txb[x] = ulaw_enc[((uint16_t)getlin[x]) >> 2];
        }
    }
}

/* CPU time consumed by the calling thread, in ns. The benchmarks measure with this
 * rather than wall time because the machine is shared: time during which the
 * scheduler runs other processes is then not charged to whatever is being measured. */
uint64_t bl_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
