/* Fuzz target: the small image-spec documents, each parser on the same
 * bytes: a descriptor (oci_descriptor_parse; "data" is checked against the
 * digest and size), a platform (oci_platform_parse) and an oci-layout file
 * (oci_image_layout_parse).
 *
 * Any input: no crash, no leak, no undefined behaviour; a rejected input
 * sets an error.  An accepted descriptor or platform survives a round trip
 * (compact and pretty, serialised to the same text); an accepted oci-layout
 * serialises and parses again; a descriptor copies (oci_descriptor_copy) to
 * the same JSON. */
#include "fuzz.h"

#include "image_spec.h"

FUZZ_JSON_ROUND_TRIP(descriptor_round_trip, struct oci_descriptor, oci_descriptor_parse,
                     oci_descriptor_to_json, oci_descriptor_free)
FUZZ_JSON_ROUND_TRIP(platform_round_trip, struct oci_platform, oci_platform_parse, oci_platform_to_json,
                     oci_platform_free)

static void descriptor_copy(const uint8_t *data, size_t size)
{
	struct oci_descriptor *d = NULL, copy = {0};
	berth_error_t err = NULL;
	char *a, *b;

	if (oci_descriptor_parse((const char *)data, size, "fuzz", &d, &err) < 0) {
		berth_error_free(&err);
		return;
	}
	if (oci_descriptor_copy(&copy, d, &err) < 0)
		fuzz_fail("oci_descriptor_copy of a parsed descriptor: %s", fuzz_msg(err));
	a = oci_descriptor_to_json(d, false, &err);
	b = oci_descriptor_to_json(&copy, false, &err);
	fuzz_require(a != NULL && b != NULL, "oci_descriptor_to_json: %s", fuzz_msg(err));
	fuzz_require(strcmp(a, b) == 0, "a copied descriptor differs:\n%s\n%s", a, b);
	free(a);
	free(b);
	oci_descriptor_free_members(&copy);
	oci_descriptor_free(d);
}

static void image_layout(const uint8_t *data, size_t size)
{
	struct oci_image_layout *l = NULL, *again = NULL;
	berth_error_t err = NULL;
	char *text;

	if (oci_image_layout_parse((const char *)data, size, "fuzz", &l, &err) < 0) {
		fuzz_require(l == NULL, "oci_image_layout_parse failed but returned a document");
		fuzz_check_error(&err, "oci_image_layout_parse");
		return;
	}
	text = oci_image_layout_to_json(l, &err);
	fuzz_require(text != NULL, "oci_image_layout_to_json: %s", fuzz_msg(err));
	if (oci_image_layout_parse(text, strlen(text), "round trip", &again, &err) < 0)
		fuzz_fail("oci_image_layout_parse rejects what oci_image_layout_to_json wrote: %s\n%s",
		          fuzz_msg(err), text);
	free(text);
	oci_image_layout_free(again);
	oci_image_layout_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	descriptor_round_trip(data, size);
	descriptor_copy(data, size);
	platform_round_trip(data, size);
	image_layout(data, size);
	return 0;
}
