/* Fuzz target: the seccomp section of config.json.  The input is the value
 * of .linux.seccomp, put into an otherwise valid config.json; what
 * oci_spec_parse accepts is built into a libseccomp filter
 * (seccomp_filter_build), never loaded.
 *
 * Any input: no crash, no leak, no undefined behaviour; a rejected section
 * or filter sets an error. */
#include "fuzz.h"

#include "runtime_spec.h"
#include "seccomp.h"

static const char prefix[] = "{\"ociVersion\":\"1.2.0\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},"
                             "\"root\":{\"path\":\"rootfs\"},\"linux\":{\"seccomp\":";
static const char suffix[] = "}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_spec *spec = NULL;
	struct seccomp_filter *f = NULL;
	berth_error_t err = NULL;
	size_t len = sizeof(prefix) - 1 + size + sizeof(suffix) - 1;
	char *json = malloc(len);

	if (json == NULL)
		return 0;
	memcpy(json, prefix, sizeof(prefix) - 1);
	if (size > 0)
		memcpy(json + sizeof(prefix) - 1, data, size);
	memcpy(json + sizeof(prefix) - 1 + size, suffix, sizeof(suffix) - 1);

	if (oci_spec_parse(json, len, "config.json", &spec, &err) < 0) {
		fuzz_check_error(&err, "oci_spec_parse");
		free(json);
		return 0;
	}
	free(json);
	if (spec->linux_ != NULL && spec->linux_->seccomp != NULL) {
		if (seccomp_filter_build(spec->linux_->seccomp, &f, &err) < 0) {
			fuzz_require(f == NULL, "seccomp_filter_build failed but returned a filter");
			fuzz_check_error(&err, "seccomp_filter_build");
		} else {
			fuzz_require(f != NULL && err == NULL,
			             "seccomp_filter_build: no filter, or an error set");
			(void)seccomp_filter_has_notify(f);
			seccomp_filter_free(f);
		}
	}
	oci_spec_free(spec);
	return 0;
}
