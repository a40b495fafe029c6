/* Fuzz target: an image manifest (oci_image_manifest_parse).
 *
 * Any input: no crash, no leak, no undefined behaviour; a rejected input
 * sets an error.  An accepted input survives a round trip: it serialises
 * (compact and pretty), both texts parse again, and the re-parsed documents
 * serialise to the same text (FUZZ_JSON_ROUND_TRIP in fuzz.h). */
#include "fuzz.h"

#include "image_spec.h"

FUZZ_JSON_ROUND_TRIP(round_trip, struct oci_image_manifest, oci_image_manifest_parse,
                     oci_image_manifest_to_json, oci_image_manifest_free)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	round_trip(data, size);
	return 0;
}
