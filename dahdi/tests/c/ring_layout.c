/*
 * Prints the ring layout as dahdi_pump_ring.h declares it, `name value` a
 * line, for the test that compares it with the Rust writer's and reader's.
 */
#include <stddef.h>
#include <stdio.h>

#include "dahdi_pump_ring.h"

#define FIELD(type, field) printf(#type "." #field " %zu %zu\n", offsetof(struct type, field), sizeof(((struct type *)0)->field))

int main(void)
{
	printf("magic %s\n", DAHDI_RING_MAGIC);
	printf("version %u\n", DAHDI_RING_VERSION);
	printf("bom %u\n", DAHDI_RING_BOM);
	printf("header_len %u\n", DAHDI_RING_HEADER_LEN);
	printf("slot_header_len %u\n", DAHDI_RING_SLOT_HEADER_LEN);
	printf("sizeof.dahdi_ring_header %zu\n", sizeof(struct dahdi_ring_header));
	printf("sizeof.dahdi_ring_slot %zu\n", sizeof(struct dahdi_ring_slot));
	FIELD(dahdi_ring_header, magic);
	FIELD(dahdi_ring_header, version);
	FIELD(dahdi_ring_header, header_len);
	FIELD(dahdi_ring_header, slot_count);
	FIELD(dahdi_ring_header, slot_stride);
	FIELD(dahdi_ring_header, payload_capacity);
	FIELD(dahdi_ring_header, sample_rate);
	FIELD(dahdi_ring_header, samples_per_frame);
	FIELD(dahdi_ring_header, bom);
	FIELD(dahdi_ring_header, writer_pid);
	FIELD(dahdi_ring_header, write_seq);
	FIELD(dahdi_ring_header, closed);
	FIELD(dahdi_ring_slot, seq);
	FIELD(dahdi_ring_slot, tick);
	FIELD(dahdi_ring_slot, meta);
	printf("dahdi_ring_slot.payload %zu\n", offsetof(struct dahdi_ring_slot, payload));
	printf("tag.mix %u\n", DAHDI_RING_TAG_MIX);
	printf("tag.input.5 %u\n", DAHDI_RING_TAG_INPUT(5));
	printf("tag.output.5 %u\n", DAHDI_RING_TAG_OUTPUT(5));
	return 0;
}
