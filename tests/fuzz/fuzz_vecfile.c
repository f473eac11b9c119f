/*
 * fuzz_vecfile.c — .fvecs/.ivecs files: dimension words, truncated vectors, any float bits.
 *
 * Checks: vectors come out whole (the destination is exactly dim * 4 bytes, so ASan sees any
 * overrun), the byte offset advances by 4 + 4 * dim per vector and ends at the file size when
 * the file ends cleanly, an error message is set whenever -1 is returned.
 */
#include "fuzz.h"
#include "../../lib/vecfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vecfile v;
	char err[256];
	const char *path = fuzz_file("v.fvecs", data, size);
	err[0] = '\0';
	if (vecfile_open(&v, path, err, sizeof(err))) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(v.f == NULL);
		return 0;
	}
	FUZZ_CHECK(v.dim >= 0 && v.dim <= VECFILE_MAX_DIM);
	if (v.dim == 0) {
		FUZZ_CHECK(size == 0);
		FUZZ_CHECK(vecfile_next(&v, NULL, err, sizeof(err)) == 0);
		vecfile_close(&v);
		return 0;
	}
	float *out = malloc((size_t)v.dim * 4);
	FUZZ_CHECK(out != NULL);
	int got;
	uint64_t n = 0;
	err[0] = '\0';
	while ((got = vecfile_next(&v, out, err, sizeof(err))) == 1) {
		n++;
		FUZZ_CHECK(v.index == n);
		FUZZ_CHECK(v.offset == n * (4 + 4 * (uint64_t)v.dim));
		FUZZ_CHECK(v.offset <= size);
	}
	if (got == 0)
		FUZZ_CHECK(v.offset == size);
	else
		FUZZ_CHECK(got == -1 && err[0] != '\0' && v.offset < size);
	free(out);
	vecfile_close(&v);
	vecfile_close(&v);  /* twice: close must be idempotent */
	return 0;
}
