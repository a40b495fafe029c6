/* Fuzz target: the options of a config.json mount (mount_options_parse) and
 * propagation names (mount_propagation_from_name).  The input is split at
 * NUL bytes into the options array (each option its own allocation, so a
 * read past its end is seen).
 *
 * Any input: no crash, no leak, no undefined behaviour; a refused option
 * sets an error.  Accepted options never both set and clear a flag, and the
 * file-system data holds only bytes of the input (and commas). */
#include "fuzz.h"

#include "mounts.h"

#define MAX_OPTIONS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *options[MAX_OPTIONS];
	size_t n = 0, start = 0;
	struct mount_options mo;
	berth_error_t err = NULL;

	for (size_t i = 0; i <= size && n < MAX_OPTIONS; i++) {
		if (i < size && data[i] != '\0')
			continue;
		options[n] = malloc(i - start + 1);
		if (options[n] == NULL)
			goto out;
		memcpy(options[n], data + start, i - start);
		options[n][i - start] = '\0';
		n++;
		start = i + 1;
	}

	if (mount_options_parse(options, n, &mo, &err) < 0) {
		fuzz_require(mo.data == NULL, "mount_options_parse failed but left data");
		fuzz_check_error(&err, "mount_options_parse");
	} else {
		fuzz_require((mo.flags & mo.clear) == 0, "flags %#lx both set and cleared (%#lx)", mo.flags,
		             mo.clear);
		fuzz_require((mo.rec_attr_set & mo.rec_attr_clr) == 0,
		             "recursive attributes both set and cleared");
		if (mo.data != NULL) {
			size_t total = 0;
			for (size_t i = 0; i < n; i++)
				total += strlen(options[i]) + 1;
			fuzz_require(strlen(mo.data) < total, "data longer than its options: %s", mo.data);
		}
		mount_options_free(&mo);
		fuzz_require(mo.data == NULL, "mount_options_free left data");
	}
	for (size_t i = 0; i < n; i++) {
		unsigned long flags = 0;
		if (mount_propagation_from_name(options[i], &flags, &err) < 0)
			fuzz_check_error(&err, "mount_propagation_from_name");
	}
out:
	for (size_t i = 0; i < n; i++)
		free(options[i]);
	return 0;
}
