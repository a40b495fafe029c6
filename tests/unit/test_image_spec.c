/* Unit tests for oci-spec/image_spec.c and oci-spec/digest.c: round trips of
 * every image-spec document with every field, validation messages, media
 * types, platforms, digests of known strings and verification failures. */
#include "../tap.h"
#include "digest.h"
#include "image_spec.h"
#include "util/cleanup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* JSON written with single quotes, to keep the C strings readable. */
static char *q(const char *s)
{
	char *r = strdup(s);

	for (char *p = r; p != NULL && *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return r;
}

#define SHA_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC   "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_HELLO "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define SHA512_ABC                                                                                           \
	"sha512:"                                                                                            \
	"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"   \
	"454d4423643ce80e2a9ac94fa54ca49f"
#define SHA512_EMPTY                                                                                         \
	"sha512:"                                                                                            \
	"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f"   \
	"63b931bd47417a81a538327af927da3e"

/* ---- round trips: parse, write, compare with the input (written in struct order, compact) ---- */

typedef char *(*roundtrip_fn)(const char *json, berth_error_t *err);

#define ROUNDTRIP_FN(name, type, parse, write, freefn)                                                       \
	static char *name(const char *json, berth_error_t *err)                                              \
	{                                                                                                    \
		type *obj = NULL;                                                                            \
		char *out;                                                                                   \
		if (parse(json, strlen(json), "doc", &obj, err) < 0)                                         \
			return NULL;                                                                         \
		out = write(obj, false, err);                                                                \
		freefn(obj);                                                                                 \
		return out;                                                                                  \
	}

ROUNDTRIP_FN(rt_descriptor, struct oci_descriptor, oci_descriptor_parse, oci_descriptor_to_json,
             oci_descriptor_free)
ROUNDTRIP_FN(rt_platform, struct oci_platform, oci_platform_parse, oci_platform_to_json, oci_platform_free)
ROUNDTRIP_FN(rt_index, struct oci_image_index, oci_image_index_parse, oci_image_index_to_json,
             oci_image_index_free)
ROUNDTRIP_FN(rt_manifest, struct oci_image_manifest, oci_image_manifest_parse, oci_image_manifest_to_json,
             oci_image_manifest_free)
ROUNDTRIP_FN(rt_config, struct oci_image_config, oci_image_config_parse, oci_image_config_to_json,
             oci_image_config_free)

static char *rt_layout(const char *json, berth_error_t *err)
{
	struct oci_image_layout *l = NULL;
	char *out;

	if (oci_image_layout_parse(json, strlen(json), "doc", &l, err) < 0)
		return NULL;
	out = oci_image_layout_to_json(l, err);
	oci_image_layout_free(l);
	return out;
}

static void roundtrip(roundtrip_fn fn, const char *single_quoted, const char *what)
{
	cleanup_free char *json = q(single_quoted);
	berth_error_t err = NULL;
	cleanup_free char *out = fn(json, &err);

	if (out == NULL)
		printf("# %s\n", err->msg);
	is_str(out, json, "round trip: %s", what);
	berth_error_free(&err);
}

/* A parse that must fail with exactly `want`. */
static void invalid(roundtrip_fn fn, const char *single_quoted, const char *want, const char *what)
{
	cleanup_free char *json = q(single_quoted);
	berth_error_t err = NULL;
	cleanup_free char *out = fn(json, &err);

	ok(out == NULL && err != NULL && err->code == BERTH_ERR_INVALID, "invalid: %s: refused", what);
	is_str(err != NULL ? err->msg : NULL, want, "invalid: %s: message", what);
	berth_error_free(&err);
}

#define DESC_FULL                                                                                            \
	"{'mediaType':'application/vnd.oci.image.manifest.v1+json','digest':'" SHA_HELLO "','size':5,"       \
	"'urls':['https://example.com/blob'],'annotations':{'org.opencontainers.image.ref.name':'v1',"       \
	"'b':'2'},'platform':{'architecture':'arm64','os':'linux','os.version':'10.0.1',"                    \
	"'os.features':['win32k'],'variant':'v8','features':['sse4']},'artifactType':'application/x-sbom',"  \
	"'data':'aGVsbG8='}"

static void test_roundtrips(void)
{
	roundtrip(rt_descriptor, DESC_FULL, "descriptor with every field");
	roundtrip(rt_descriptor, "{'mediaType':'application/octet-stream','digest':'" SHA_EMPTY "','size':0}",
	          "descriptor of an empty blob (size 0 written)");
	roundtrip(
	    rt_platform,
	    "{'architecture':'amd64','os':'windows','os.version':'10.0.17763.1','os.features':['win32k'],"
	    "'variant':'v3','features':['x']}",
	    "platform with every field");
	roundtrip(rt_index,
	          "{'schemaVersion':2,'mediaType':'application/vnd.oci.image.index.v1+json',"
	          "'artifactType':'application/x-thing','manifests':[" DESC_FULL
	          ",{'mediaType':'application/vnd.oci.image.index.v1+json','digest':'" SHA_ABC "','size':3}],"
	          "'subject':{'mediaType':'application/vnd.oci.image.manifest.v1+json','digest':'" SHA_EMPTY
	          "','size':0},'annotations':{'org.opencontainers.image.created':'2024-01-02T03:04:05Z'}}",
	          "index with every field");
	roundtrip(rt_index, "{'schemaVersion':2,'manifests':[]}", "empty index");
	roundtrip(rt_manifest,
	          "{'schemaVersion':2,'mediaType':'application/vnd.oci.image.manifest.v1+json',"
	          "'artifactType':'application/x-sbom','config':{'mediaType':'application/"
	          "vnd.oci.image.config.v1+json',"
	          "'digest':'" SHA_ABC
	          "','size':3},'layers':[{'mediaType':'application/vnd.oci.image.layer.v1.tar+gzip',"
	          "'digest':'" SHA512_ABC
	          "','size':3},{'mediaType':'application/vnd.oci.image.layer.v1.tar+zstd',"
	          "'digest':'" SHA_EMPTY "','size':0,'urls':['https://x/y']}],"
	          "'subject':{'mediaType':'application/vnd.oci.image.manifest.v1+json','digest':'" SHA_EMPTY
	          "','size':0},'annotations':{'a':'1'}}",
	          "manifest with every field");
	roundtrip(rt_manifest,
	          "{'schemaVersion':2,'mediaType':'application/vnd.docker.distribution.manifest.v2+json',"
	          "'config':{'mediaType':'application/vnd.docker.container.image.v1+json','digest':'" SHA_ABC
	          "','size':3},'layers':[]}",
	          "docker schema 2 manifest without layers");
	roundtrip(
	    rt_config,
	    "{'created':'2024-01-02T03:04:05.123456789Z','author':'me <me@example.com>',"
	    "'architecture':'arm','os':'linux','os.version':'5.10','os.features':['f'],'variant':'v7',"
	    "'config':{'User':'app:app','ExposedPorts':{'80/tcp':{},'53/udp':{},'8080':{}},"
	    "'Env':['PATH=/usr/bin:/bin','A=b=c'],'Entrypoint':['/bin/sh','-c'],'Cmd':['echo hi'],"
	    "'Volumes':{'/data':{},'/var/log':{}},'WorkingDir':'/srv','Labels':{'z':'last','a':'first'},"
	    "'StopSignal':'SIGQUIT','ArgsEscaped':true,'Healthcheck':{'Test':['CMD-SHELL','curl -f x'],"
	    "'Interval':30000000000,'Timeout':5000000000,'StartPeriod':1000000000,'StartInterval':2000000000,"
	    "'Retries':3},'OnBuild':['RUN make'],'Shell':['/bin/bash','-c']},"
	    "'rootfs':{'type':'layers','diff_ids':['" SHA_EMPTY "','" SHA_ABC "']},"
	    "'history':[{'created':'2024-01-01T00:00:00Z','created_by':'/bin/sh -c #(nop) ADD file',"
	    "'author':'a','comment':'c'},{'created_by':'ENV A=b','empty_layer':true}]}",
	    "image config with every field (docker extensions too)");
	roundtrip(rt_config,
	          "{'architecture':'amd64','os':'linux','config':{'Entrypoint':[],'Cmd':[]},"
	          "'rootfs':{'type':'layers','diff_ids':[]}}",
	          "image config: empty Entrypoint and Cmd stay [] (not absent)");
	roundtrip(rt_layout, "{'imageLayoutVersion':'1.0.0'}", "oci-layout");
}

static void test_config_members(void)
{
	cleanup_free char *json =
	    q("{'architecture':'amd64','os':'linux','config':{'Cmd':null,"
	      "'ExposedPorts':{'80/tcp':{}}},'rootfs':{'type':'layers','diff_ids':[]}}");
	cleanup_oci_image_config struct oci_image_config *c = NULL;
	berth_error_t err = NULL;
	struct oci_image_config built = {.architecture = (char *)"amd64", .os = (char *)"linux"};
	cleanup_free char *out = NULL;

	ok(oci_image_config_parse(json, strlen(json), "config", &c, &err) == 0,
	   "config: docker null Cmd accepted");
	ok(c != NULL && c->config != NULL && c->config->cmd == NULL && c->config->entrypoint == NULL,
	   "config: null Cmd and missing Entrypoint are absent");
	is_str(c != NULL && c->config->exposed_ports_len == 1 ? c->config->exposed_ports[0].key : NULL,
	       "80/tcp", "config: ExposedPorts keys");
	/* A config built in code (the builder's): rootfs and diff_ids are written even when empty. */
	out = oci_image_config_to_json(&built, false, &err);
	is_str(
	    out,
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	    "config: a built config without layers");
	berth_error_free(&err);
}

static void test_invalid(void)
{
	berth_error_t err = NULL;
	cleanup_free char *text =
	    q("{'schemaVersion':2,'manifests':[{'mediaType':'a/b','digest':'sha256:xyz',"
	      "'size':1}]}");
	struct oci_image_index *index = NULL;

	ok(oci_image_index_parse(text, strlen(text), "index.json", &index, &err) < 0,
	   "index: bad digest refused");
	is_str(err != NULL ? err->msg : NULL, "index.json: .manifests[0].digest: invalid digest `sha256:xyz`",
	       "index: the message names the file, the path and the digest");
	berth_error_free(&err);

	invalid(rt_index, "{'schemaVersion':1,'manifests':[]}",
	        "doc: .schemaVersion: unsupported schema version 1 (expected 2)", "index schema version");
	invalid(rt_index, "{'schemaVersion':2}", "doc: .manifests: required", "index without manifests");
	invalid(rt_manifest,
	        "{'schemaVersion':2,'config':{'mediaType':'a/b','digest':'" SHA_ABC
	        "','size':-1},'layers':[]}",
	        "doc: .config.size: expected a non-negative integer", "manifest: negative size");
	invalid(rt_manifest,
	        "{'schemaVersion':2,'config':{'mediaType':'a/b','digest':'" SHA_ABC "','size':3},"
	        "'layers':[{'mediaType':'a/b','digest':'" SHA_ABC "','size':3},{'digest':'" SHA_ABC
	        "','size':3}]}",
	        "doc: .layers[1].mediaType: required", "manifest: layer without a media type");
	invalid(rt_manifest, "{'schemaVersion':2,'layers':[]}", "doc: .config: required",
	        "manifest without config");
	invalid(rt_manifest,
	        "{'schemaVersion':2,'config':{'mediaType':'a/"
	        "b','digest':'sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A"
	        "396177A9CB410FF61F20015AD','size':3},'layers':[]}",
	        "doc: .config.digest: invalid digest "
	        "`sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD`",
	        "manifest: uppercase hex");
	invalid(rt_descriptor, "{'mediaType':'a/b','digest':'" SHA_ABC "','size':5,'data':'aGVsbG8='}",
	        "doc: .data: blob " SHA_ABC ": digest mismatch (got " SHA_HELLO ")",
	        "descriptor: data of another digest");
	invalid(rt_descriptor, "{'mediaType':'a/b','digest':'" SHA_ABC "','size':3,'data':'aGVsbG8='}",
	        "doc: .data: blob " SHA_ABC ": size mismatch: expected 3 bytes, got at least 5",
	        "descriptor: data longer than size");
	invalid(rt_descriptor, "{'mediaType':'a/b','digest':'" SHA_EMPTY "','size':3,'data':'YWJj'}",
	        "doc: .data: blob " SHA_EMPTY ": digest mismatch (got " SHA_ABC ")",
	        "descriptor: data not matching");
	invalid(rt_descriptor, "{'mediaType':'a/b','digest':'" SHA_HELLO "','size':5,'data':'aGVsbG8'}",
	        "doc: .data: invalid base64", "descriptor: bad base64");
	invalid(rt_descriptor, "{'mediaType':'a/b','digest':'md5:abc','size':5}",
	        "doc: .digest: invalid digest `md5:abc`", "descriptor: unknown algorithm");
	invalid(rt_platform, "{'os':'linux'}", "doc: .architecture: required",
	        "platform without architecture");
	invalid(rt_config, "{'architecture':'amd64','os':'linux','rootfs':{'type':'foo','diff_ids':[]}}",
	        "doc: .rootfs.type: unsupported rootfs type `foo` (expected `layers`)",
	        "config: rootfs type");
	invalid(rt_config,
	        "{'architecture':'amd64','os':'linux','rootfs':{'type':'layers','diff_ids':['" SHA_ABC
	        "','sha256:abc']}}",
	        "doc: .rootfs.diff_ids: invalid digest `sha256:abc` at index 1", "config: bad diff_id");
	invalid(rt_config, "{'architecture':'amd64','os':'linux'}", "doc: .rootfs: required",
	        "config without rootfs");
	invalid(rt_config,
	        "{'architecture':'amd64','os':'linux','config':{'ExposedPorts':{'http':{}}},"
	        "'rootfs':{'type':'layers','diff_ids':[]}}",
	        "doc: .config.ExposedPorts: invalid port `http`", "config: bad port");
	invalid(rt_config,
	        "{'architecture':'amd64','os':'linux','config':{'Env':['NOEQUALS']},"
	        "'rootfs':{'type':'layers','diff_ids':[]}}",
	        "doc: .config.Env: invalid variable `NOEQUALS` (expected NAME=value)", "config: bad Env");
	invalid(rt_config,
	        "{'architecture':'amd64','os':'linux','config':{'Cmd':'ls'},'rootfs':{'type':'layers','diff_"
	        "ids':[]}}",
	        "doc: .config.Cmd: expected an array of strings", "config: Cmd as a string");
	invalid(rt_layout, "{'imageLayoutVersion':'2.0.0'}",
	        "doc: .imageLayoutVersion: unsupported image layout version `2.0.0`", "oci-layout version");
	invalid(rt_index, "{'schemaVersion':2,'manifests':[]",
	        "doc: invalid JSON: unexpected end of input at line 1, column 34", "truncated JSON");
}

static void test_media_types(void)
{
	enum oci_compression comp = OCI_COMPRESSION_NONE;

	ok(oci_media_type_is_index(OCI_MEDIA_TYPE_INDEX) && oci_media_type_is_index(DOCKER_MEDIA_TYPE_LIST) &&
	       !oci_media_type_is_index(OCI_MEDIA_TYPE_MANIFEST) && !oci_media_type_is_index(NULL),
	   "media types: indexes (OCI and docker lists)");
	ok(oci_media_type_is_manifest(OCI_MEDIA_TYPE_MANIFEST) &&
	       oci_media_type_is_manifest(DOCKER_MEDIA_TYPE_MANIFEST) &&
	       !oci_media_type_is_manifest(OCI_MEDIA_TYPE_INDEX),
	   "media types: manifests");
	ok(oci_media_type_is_config(OCI_MEDIA_TYPE_CONFIG) &&
	       oci_media_type_is_config(DOCKER_MEDIA_TYPE_CONFIG) &&
	       !oci_media_type_is_config(OCI_MEDIA_TYPE_LAYER),
	   "media types: configs");
	ok(oci_media_type_layer_compression(DOCKER_MEDIA_TYPE_LAYER_GZIP, &comp) == 0 &&
	       comp == OCI_COMPRESSION_GZIP,
	   "media types: docker gzip layer");
	ok(oci_media_type_layer_compression(OCI_MEDIA_TYPE_LAYER_ZSTD, &comp) == 0 &&
	       comp == OCI_COMPRESSION_ZSTD,
	   "media types: OCI zstd layer");
	ok(oci_media_type_layer_compression(OCI_MEDIA_TYPE_LAYER_ND, &comp) == 0 &&
	       comp == OCI_COMPRESSION_NONE,
	   "media types: non-distributable tar layer");
	ok(oci_media_type_layer_compression(DOCKER_MEDIA_TYPE_LAYER, &comp) == 0 &&
	       comp == OCI_COMPRESSION_NONE,
	   "media types: docker tar layer");
	ok(oci_media_type_layer_compression(OCI_MEDIA_TYPE_CONFIG, &comp) < 0,
	   "media types: a config is no layer");
	is_str(oci_media_type_layer(OCI_COMPRESSION_GZIP), OCI_MEDIA_TYPE_LAYER_GZIP,
	       "media types: gzip layer type");
	is_str(oci_compression_name(OCI_COMPRESSION_ZSTD), "zstd", "compression names");
}

static void test_platforms(void)
{
	struct oci_platform arm = {.architecture = (char *)"arm64", .os = (char *)"linux"};
	struct oci_platform armv7 = {
	    .architecture = (char *)"arm", .os = (char *)"linux", .variant = (char *)"v7"};
	const char *os, *arch, *variant;
	char buf[64];

	ok(oci_platform_matches(&arm, "linux", "arm64", "v8"), "platform: arm64 without variant is v8");
	ok(oci_platform_matches(&arm, "linux", "aarch64", NULL), "platform: aarch64 is arm64");
	ok(!oci_platform_matches(&arm, "linux", "amd64", NULL), "platform: arm64 is not amd64");
	ok(!oci_platform_matches(&armv7, "linux", "arm", "v6"), "platform: variants differ");
	ok(oci_platform_matches(&armv7, "linux", "arm", NULL), "platform: no variant wanted matches any");
	ok(!oci_platform_matches(&armv7, "windows", "arm", NULL), "platform: os differs");
	is_str(oci_platform_format(&armv7, buf, sizeof(buf)), "linux/arm/v7", "platform: formatted");
	oci_platform_host(&os, &arch, &variant);
	is_str(os, "linux", "platform: host os");
#if defined(__x86_64__)
	is_str(arch, "amd64", "platform: host architecture");
#endif
}

static void test_annotations(void)
{
	struct oci_descriptor d = {0}, copy = {0};
	berth_error_t err = NULL;

	d.media_type = strdup(OCI_MEDIA_TYPE_MANIFEST);
	d.digest = strdup(SHA_ABC);
	d.size = 3;
	ok(oci_descriptor_set_annotation(&d, "a", "1", &err) == 0 &&
	       oci_descriptor_set_annotation(&d, "a", "2", &err) == 0 && d.annotations_len == 1,
	   "annotations: set replaces");
	is_str(oci_descriptor_annotation(&d, "a"), "2", "annotations: read back");
	ok(oci_descriptor_copy(&copy, &d, &err) == 0, "descriptor: deep copy");
	is_str(oci_descriptor_annotation(&copy, "a"), "2", "descriptor: copy has the annotation");
	ok(copy.annotations != d.annotations && copy.size == 3, "descriptor: the copy owns its members");
	oci_descriptor_free_members(&d);
	oci_descriptor_free_members(&copy);
	berth_error_free(&err);
}

/* ---- digests ---- */

static void test_digests(void)
{
	char out[OCI_DIGEST_MAX];
	berth_error_t err = NULL;
	struct oci_hasher *h;
	enum oci_digest_alg alg;
	const char *hex = NULL;
	static const char *const bad[] = {
	    "sha256:",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
	    "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha256:E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha256e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha384:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha256:../../../../etc/passwd",
	    "",
	};

	ok(oci_digest_buffer(OCI_DIGEST_SHA256, "", 0, out, &err) == 0, "sha256 of \"\"");
	is_str(out, SHA_EMPTY, "sha256 of \"\" is e3b0c442...");
	oci_digest_buffer(OCI_DIGEST_SHA256, "abc", 3, out, &err);
	is_str(out, SHA_ABC, "sha256 of \"abc\"");
	oci_digest_buffer(OCI_DIGEST_SHA512, "abc", 3, out, &err);
	is_str(out, SHA512_ABC, "sha512 of \"abc\"");
	oci_digest_buffer(OCI_DIGEST_SHA512, "", 0, out, &err);
	is_str(out, SHA512_EMPTY, "sha512 of \"\"");
	h = oci_hasher_new(OCI_DIGEST_SHA256, &err);
	oci_hasher_update(h, "a", 1);
	oci_hasher_update(h, "", 0);
	oci_hasher_update(h, "bc", 2);
	oci_hasher_final(h, out);
	oci_hasher_free(h);
	is_str(out, SHA_ABC, "sha256 streamed in pieces equals one shot");

	ok(oci_digest_parse(SHA512_ABC, &alg, &hex, &err) == 0 && alg == OCI_DIGEST_SHA512 &&
	       strlen(hex) == 128,
	   "parse: sha512 digest");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!oci_digest_valid(bad[i]), "parse: `%s` refused", bad[i]);
	ok(oci_digest_parse("sha256:nope", NULL, NULL, &err) < 0, "parse: error set");
	is_str(err != NULL ? err->msg : NULL, "invalid digest `sha256:nope`", "parse: message");
	berth_error_free(&err);
}

static void test_verify(void)
{
	berth_error_t err = NULL;
	struct oci_verifier *v;
	int fds[2];
	struct oci_blob_reader *r;
	char buf[16];
	ssize_t n;

	ok(oci_digest_verify_buffer(SHA_ABC, 3, "abc", 3, &err) == 0, "verify: matching content");
	ok(oci_digest_verify_buffer(SHA_ABC, -1, "abd", 3, &err) < 0, "verify: other content refused");
	is_str(
	    err != NULL ? err->msg : NULL,
	    "blob " SHA_ABC
	    ": digest mismatch (got sha256:a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9)",
	    "verify: digest mismatch names both digests");
	berth_error_free(&err);
	ok(oci_digest_verify_buffer(SHA_ABC, 4, "abc", 3, &err) < 0, "verify: short content refused");
	is_str(err != NULL ? err->msg : NULL, "blob " SHA_ABC ": size mismatch: expected 4 bytes, got 3",
	       "verify: size mismatch message");
	berth_error_free(&err);

	v = oci_verifier_new(SHA_ABC, 2, &err);
	ok(oci_verifier_update(v, "ab", 2, &err) == 0 && oci_verifier_update(v, "c", 1, &err) < 0,
	   "verify: streaming stops as soon as the size is passed");
	is_str(err != NULL ? err->msg : NULL,
	       "blob " SHA_ABC ": size mismatch: expected 2 bytes, got at least 3",
	       "verify: oversize message");
	oci_verifier_free(v);
	berth_error_free(&err);
	ok(oci_verifier_new("sha256:xyz", 1, &err) == NULL, "verify: an invalid digest is refused up front");
	berth_error_free(&err);

	/* The reader: content flows, and the end of a mismatching stream is an error. */
	if (pipe(fds) < 0)
		return;
	ok(write(fds[1], "abd", 3) == 3, "reader: pipe filled");
	close(fds[1]);
	r = oci_blob_reader_new(fds[0], SHA_ABC, 3, &err);
	n = oci_blob_reader_read(r, buf, sizeof(buf), &err);
	ok(n == 3 && memcmp(buf, "abd", 3) == 0, "reader: content returned");
	n = oci_blob_reader_read(r, buf, sizeof(buf), &err);
	ok(n < 0 && err != NULL && strstr(err->msg, "digest mismatch") != NULL,
	   "reader: end of mismatching content is an error, not EOF");
	oci_blob_reader_free(r);
	berth_error_free(&err);

	if (pipe(fds) < 0)
		return;
	ok(write(fds[1], "abc", 3) == 3, "reader: pipe filled");
	close(fds[1]);
	r = oci_blob_reader_new(fds[0], SHA_ABC, 3, &err);
	ok(oci_blob_reader_drain(r, &err) == 0, "reader: matching content drains to a verified end");
	ok(oci_blob_reader_read(r, buf, sizeof(buf), &err) == 0, "reader: EOF after the verified end");
	oci_blob_reader_free(r);
	berth_error_free(&err);
}

int main(void)
{
	test_roundtrips();
	test_config_members();
	test_invalid();
	test_media_types();
	test_platforms();
	test_annotations();
	test_digests();
	test_verify();
	return tap_done();
}
