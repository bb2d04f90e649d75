/*
 * ring_reader: reads a conference's frames from a pump's shared-memory ring
 * and prints them, one record a line, in C alone (no Rust).
 *
 *   cc -std=c11 -O2 -I dahdi/include dahdi/examples/c/ring_reader.c -o ring_reader
 *   ./ring_reader /dev/shm/conference.ring 100
 *
 * Prints a first line `ring <samples_per_frame> <slot_count> <writer_pid>`,
 * then for each of COUNT records, starting with the next one the pump
 * publishes: `record <seq> <tick> <kind> <port> <sample>...`, kind being
 * mix, input or output (see dahdi_pump_ring.h), and at the end
 * `lost <records lost to lapping>`. Exits 2 when no record comes for ten
 * seconds, 3 when the pump closes the ring first.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dahdi_pump_ring.h"

static const char *kind_name(uint32_t tag)
{
	switch (DAHDI_RING_TAG_KIND(tag)) {
	case 0:
		return "mix";
	case 1:
		return "input";
	case 2:
		return "output";
	default:
		return "unknown";
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s RING COUNT\n", argv[0]);
		return 1;
	}
	const char *path = argv[1];
	long count = strtol(argv[2], 0, 10);

	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "%s: open: %s\n", path, strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		fprintf(stderr, "%s: stat: %s\n", path, strerror(errno));
		return 1;
	}
	/* Read-only: a reader can never disturb the pump or other readers. */
	void *map = mmap(0, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "%s: mmap: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	const char *why = dahdi_ring_check(map, (uint64_t)st.st_size);
	if (why) {
		fprintf(stderr, "%s: %s\n", path, why);
		return 1;
	}

	struct dahdi_ring_reader reader;
	dahdi_ring_reader_init(&reader, map);
	const struct dahdi_ring_header *h = reader.header;
	printf("ring %u %u %u\n", h->samples_per_frame, h->slot_count, h->writer_pid);

	/* Room for the largest payload, in whole 64-bit words. */
	size_t cap = (h->payload_capacity + 7) / 8 * 8;
	int16_t *frame = malloc(cap);
	if (!frame)
		return 1;
	const struct timespec nap = {0, 1000000}; /* 1 ms between polls */
	long idle_ms = 0;
	for (long got = 0; got < count;) {
		struct dahdi_ring_record rec;
		if (dahdi_ring_try_read(&reader, frame, cap, &rec)) {
			printf("record %llu %llu %s %u", (unsigned long long)rec.seq,
			       (unsigned long long)rec.tick, kind_name(rec.tag), DAHDI_RING_TAG_PORT(rec.tag));
			for (uint32_t s = 0; s < rec.len / 2; s++)
				printf(" %d", frame[s]);
			printf("\n");
			got++;
			idle_ms = 0;
			continue;
		}
		if (dahdi_ring_closed(&reader)) {
			fprintf(stderr, "%s: the pump closed the ring after %ld records\n", path, got);
			return 3;
		}
		if (++idle_ms > 10000) {
			fprintf(stderr, "%s: no record for ten seconds\n", path);
			return 2;
		}
		nanosleep(&nap, 0);
	}
	printf("lost %llu\n", (unsigned long long)reader.lost);
	free(frame);
	return 0;
}
