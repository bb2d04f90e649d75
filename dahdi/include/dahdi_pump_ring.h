/*
 * dahdi_pump_ring.h: the shared-memory ring of the DAHDI channel pump
 * (layout version 1), for programs in C or any language with a C FFI.
 *
 * The pump (Rust crate `dahdi`, module `dahdi::pump::shm`) publishes frames
 * of a conference (the mix, each participant's input, what each participant
 * hears) into a ring file, normally in /dev/shm. This header describes that
 * file and gives a reader that follows the ring's sequence rules; the
 * example examples/c/ring_reader.c uses it.
 *
 * FILE
 *   A header of DAHDI_RING_HEADER_LEN (4096) bytes, then `slot_count` slots
 *   of `slot_stride` bytes each. Integers are native-endian; `bom` holds
 *   0x01020304 as the writer stored it, so a reader on the other byte order
 *   sees another value and must refuse the file. Every 64-bit field is
 *   naturally aligned (the file is mapped at a page boundary).
 *
 *   Record n (counted from 0 since the ring was created) lives in slot
 *   n % slot_count, at byte DAHDI_RING_HEADER_LEN + (n % slot_count) * slot_stride.
 *
 * SEQUENCE RULES (one writer, any number of readers, readers never write)
 *   The writer publishes record n as a sequence lock:
 *     1. slot.seq = 2n + 1                 (relaxed), then a release fence;
 *     2. slot.tick, slot.meta, payload      (relaxed atomic 64-bit stores);
 *     3. slot.seq = 2n + 2                 (release);
 *     4. header.write_seq = n + 1          (release).
 *   A reader that wants record n:
 *     a. s1 = slot.seq (acquire);
 *        s1 <  2n + 2: record n is not published yet: try again later;
 *        s1 == 2n + 2: go on;
 *        s1 >  2n + 2: the writer has lapped the reader (record n is lost).
 *     b. copy tick, meta and the payload with relaxed atomic 64-bit loads;
 *     c. an acquire fence, then s2 = slot.seq (relaxed);
 *        s2 == s1: the copy is record n, intact; the next record is n + 1;
 *        otherwise the writer overwrote the slot during the copy: lapped.
 *   A lapped reader counts the records it lost and resumes at
 *   max(n + 1, write_seq - slot_count / 2), so the writer does not lap it
 *   again at once. The writer never waits for readers.
 *
 *   A new reader starts at the write_seq it finds: its first record is the
 *   next one published, complete. `closed` becomes 1 once the writer is
 *   done. A writer that restarts on the same name creates a new file and
 *   renames it into place: readers of the old file see it closed.
 *
 * RECORDS OF THE PUMP
 *   Every tick the pump writes one record per stream given to the ring, in
 *   the order given, all stamped with the tick's number (`tick`). `meta`
 *   holds the stream tag in its low 32 bits and the payload length in bytes
 *   in its high 32 bits; the payload is `samples_per_frame` signed 16-bit
 *   linear samples at `sample_rate` Hz.
 */
#ifndef DAHDI_PUMP_RING_H
#define DAHDI_PUMP_RING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdatomic.h>

#define DAHDI_RING_MAGIC "DAHDIRNG" /* 8 bytes, no terminating NUL in the file */
#define DAHDI_RING_VERSION 1u
#define DAHDI_RING_HEADER_LEN 4096u
#define DAHDI_RING_SLOT_HEADER_LEN 32u
#define DAHDI_RING_BOM 0x01020304u

/* Stream tags: bits 31..30 the kind, bits 29..0 the port's index. */
#define DAHDI_RING_TAG_MIX 0u
#define DAHDI_RING_TAG_INPUT(port) ((1u << 30) | ((uint32_t)(port) & 0x3FFFFFFFu))
#define DAHDI_RING_TAG_OUTPUT(port) ((2u << 30) | ((uint32_t)(port) & 0x3FFFFFFFu))
#define DAHDI_RING_TAG_KIND(tag) ((uint32_t)(tag) >> 30) /* 0 mix, 1 input, 2 output */
#define DAHDI_RING_TAG_PORT(tag) ((uint32_t)(tag) & 0x3FFFFFFFu)

/* The file's first DAHDI_RING_HEADER_LEN bytes. */
struct dahdi_ring_header {
	char magic[8];               /*   0: "DAHDIRNG" */
	uint32_t version;            /*   8: DAHDI_RING_VERSION */
	uint32_t header_len;         /*  12: DAHDI_RING_HEADER_LEN */
	uint32_t slot_count;         /*  16: a power of two, 2 ..= 2^24 */
	uint32_t slot_stride;        /*  20: bytes per slot, a multiple of 64 */
	uint32_t payload_capacity;   /*  24: slot_stride - 32, in bytes */
	uint32_t sample_rate;        /*  28: 8000 */
	uint32_t samples_per_frame;  /*  32: the pump's block */
	uint32_t bom;                /*  36: DAHDI_RING_BOM */
	uint32_t writer_pid;         /*  40 */
	uint8_t reserved0[64 - 44];
	_Atomic uint64_t write_seq;  /*  64: records published so far */
	uint8_t reserved1[128 - 72];
	_Atomic uint64_t closed;     /* 128: 1 once the writer is done */
	uint8_t reserved2[DAHDI_RING_HEADER_LEN - 136];
};

/* A slot: DAHDI_RING_SLOT_HEADER_LEN bytes, then the payload. */
struct dahdi_ring_slot {
	_Atomic uint64_t seq;        /*  0: 0 never written, 2n+1 writing n, 2n+2 holds n */
	_Atomic uint64_t tick;       /*  8 */
	_Atomic uint64_t meta;       /* 16: tag | (payload bytes << 32) */
	uint64_t reserved;           /* 24 */
	_Atomic uint64_t payload[];  /* 32: payload_capacity bytes */
};

_Static_assert(sizeof(struct dahdi_ring_header) == DAHDI_RING_HEADER_LEN, "ring header size");
_Static_assert(offsetof(struct dahdi_ring_header, write_seq) == 64, "write_seq offset");
_Static_assert(offsetof(struct dahdi_ring_header, closed) == 128, "closed offset");
_Static_assert(sizeof(struct dahdi_ring_slot) == DAHDI_RING_SLOT_HEADER_LEN, "slot header size");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "64-bit atomics");

/* A reader's position in a mapped ring. */
struct dahdi_ring_reader {
	const struct dahdi_ring_header *header;
	uint64_t next; /* the record to read next */
	uint64_t lost; /* records lost to lapping */
};

/* One record as read. */
struct dahdi_ring_record {
	uint64_t seq;
	uint64_t tick;
	uint32_t tag;
	uint32_t len; /* payload bytes copied */
};

/*
 * Checks a mapped file of `file_len` bytes: 0 if it is a ring of this
 * layout, else a short reason.
 */
static inline const char *dahdi_ring_check(const void *map, uint64_t file_len)
{
	const struct dahdi_ring_header *h = (const struct dahdi_ring_header *)map;
	if (file_len < DAHDI_RING_HEADER_LEN)
		return "shorter than a ring header";
	if (memcmp(h->magic, DAHDI_RING_MAGIC, 8) != 0)
		return "not a DAHDI pump ring (bad magic)";
	if (h->version != DAHDI_RING_VERSION)
		return "ring layout version not 1";
	if (h->bom != DAHDI_RING_BOM)
		return "written with the other byte order";
	if (h->header_len != DAHDI_RING_HEADER_LEN)
		return "bad header length";
	if (h->slot_count < 2 || h->slot_count > (1u << 24) || (h->slot_count & (h->slot_count - 1)) != 0)
		return "bad slot count";
	if (h->slot_stride < 64 || h->slot_stride % 64 != 0 || h->slot_stride > (1u << 21))
		return "bad slot stride";
	if (h->payload_capacity != h->slot_stride - DAHDI_RING_SLOT_HEADER_LEN)
		return "payload capacity does not match the stride";
	if (file_len < DAHDI_RING_HEADER_LEN + (uint64_t)h->slot_count * h->slot_stride)
		return "file shorter than its slots";
	return 0;
}

/* Starts reading a checked ring at the next record the writer publishes. */
static inline void dahdi_ring_reader_init(struct dahdi_ring_reader *r, const void *map)
{
	r->header = (const struct dahdi_ring_header *)map;
	r->next = atomic_load_explicit(&r->header->write_seq, memory_order_acquire);
	r->lost = 0;
}

/*
 * Reads the next record into `buf` (`buf_len` bytes, a multiple of 8): 1 and
 * `*rec` filled when a record was read, 0 when none is published yet.
 * Follows the sequence rules above; records lost to lapping are added to
 * `r->lost`. Never blocks.
 */
static inline int dahdi_ring_try_read(struct dahdi_ring_reader *r, void *buf, size_t buf_len,
				      struct dahdi_ring_record *rec)
{
	const struct dahdi_ring_header *h = r->header;
	const uint64_t slots = h->slot_count;
	/* A writer that behaves gives an answer within two rounds. */
	for (int round = 0; round < 4; round++) {
		const uint64_t n = r->next;
		const uint64_t want = 2 * n + 2;
		struct dahdi_ring_slot *slot =
			(struct dahdi_ring_slot *)((uintptr_t)h + DAHDI_RING_HEADER_LEN +
						   (n & (slots - 1)) * h->slot_stride);
		const uint64_t s1 = atomic_load_explicit(&slot->seq, memory_order_acquire);
		if (s1 < want)
			return 0;
		if (s1 == want) {
			const uint64_t tick = atomic_load_explicit(&slot->tick, memory_order_relaxed);
			const uint64_t meta = atomic_load_explicit(&slot->meta, memory_order_relaxed);
			size_t len = (size_t)(meta >> 32);
			if (len > h->payload_capacity)
				len = h->payload_capacity;
			if (len > buf_len)
				len = buf_len;
			for (size_t w = 0; w * 8 < len; w++) {
				uint64_t word = atomic_load_explicit(&slot->payload[w], memory_order_relaxed);
				size_t take = len - w * 8 < 8 ? len - w * 8 : 8;
				memcpy((char *)buf + w * 8, &word, take);
			}
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&slot->seq, memory_order_relaxed) == want) {
				r->next = n + 1;
				rec->seq = n;
				rec->tick = tick;
				rec->tag = (uint32_t)meta;
				rec->len = (uint32_t)len;
				return 1;
			}
		}
		/* Lapped: resume in the newer half of the ring. */
		uint64_t w = atomic_load_explicit(&h->write_seq, memory_order_acquire);
		uint64_t resume = w > slots / 2 ? w - slots / 2 : 0;
		if (resume < n + 1)
			resume = n + 1;
		r->lost += resume - n;
		r->next = resume;
	}
	return 0;
}

/* Whether the writer is done. */
static inline int dahdi_ring_closed(const struct dahdi_ring_reader *r)
{
	return atomic_load_explicit(&r->header->closed, memory_order_acquire) != 0;
}

#endif /* DAHDI_PUMP_RING_H */
