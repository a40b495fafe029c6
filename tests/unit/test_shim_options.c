/* Unit tests: the shim's runtime options (shim/options.c): the options Any
 * (runc's Options, CRI's runtimeoptions with a config file or body, other
 * types ignored) and the TOML form, with errors that name file and line. */
#include "../tap.h"
#include "options.h"
#include "options.pb-c.h"
#include "ttrpc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parses text; returns the error message (static copy) or NULL. */
static const char *parse(const char *text, struct shim_options *o)
{
	static char msg[512];
	berth_error_t err = NULL;

	if (options_parse_toml("opts.toml", text, strlen(text), o, &err) == 0)
		return NULL;
	snprintf(msg, sizeof(msg), "%s", berth_error_message(err));
	berth_error_free(&err);
	return msg;
}

static void test_toml(void)
{
	struct shim_options o = {0};
	const char *e;

	e = parse("# berth shim options\n"
	          "Root = \"/run/b\\u00e9rth\"   # a comment\n"
	          "\n"
	          "  shimcgroup = '/pods/shim\\x'\n"
	          "SystemdCgroup = false\n"
	          "NoPivotRoot = true\r\n"
	          "NoNewKeyring = true\n"
	          "IoUid = 1_000\n"
	          "\"IoGid\" = +1001\n"
	          "BinaryName = \"/usr/bin/runc\"\n"
	          "TypeUrl = \"x\"\n",
	          &o);
	is_str(e, NULL, "a file with every kind of line parses");
	is_str(o.root, "/run/b\xc3\xa9rth", "Root, with a \\u escape");
	is_str(o.shim_cgroup, "/pods/shim\\x", "ShimCgroup, a literal string, key matched without case");
	ok(!o.systemd_cgroup && o.no_pivot_root && o.no_new_keyring, "booleans (one line ends in CR LF)");
	ok(o.io_uid == 1000 && o.io_gid == 1001, "integers with _ and +, a quoted key");
	options_free(&o);
	ok(o.root == NULL && o.shim_cgroup == NULL, "options_free empties the options");

	e = parse("Root = \"\"\n", &o);
	ok(e == NULL && o.root == NULL, "an empty Root is the default");

	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"Root = \"/a\"\nBogus = 1\n", "`opts.toml`:2: unknown key `Bogus`"},
	    {"[plugins]\n", "`opts.toml`:1: tables are not supported: the options are top-level keys"},
	    {"Root = /a\n", "`opts.toml`:1: Root: expected a string, true, false or an integer"},
	    {"Root = 1\n", "`opts.toml`:1: Root: expected a string"},
	    {"NoPivotRoot = \"yes\"\n", "`opts.toml`:1: NoPivotRoot: expected true or false"},
	    {"IoUid = -1\n", "`opts.toml`:1: IoUid: expected an integer from 0 to 4294967295"},
	    {"IoUid = 4294967296\n", "`opts.toml`:1: IoUid: expected an integer from 0 to 4294967295"},
	    {"IoUid = 12ab\n", "`opts.toml`:1: IoUid: not a decimal integer"},
	    {"Root = \"/a\n", "`opts.toml`:1: Root: unterminated string"},
	    {"Root = \"\"\"x\"\"\"\n", "`opts.toml`:1: Root: multi-line strings are not supported"},
	    {"Root = \"\\q\"\n", "`opts.toml`:1: Root: unknown escape in a string"},
	    {"Root = \"\\ud800\"\n", "`opts.toml`:1: Root: a \\u escape names no valid character"},
	    {"Root = \"/a\" x\n", "`opts.toml`:1: unexpected text after the value of `Root`"},
	    {"Root \"/a\"\n", "`opts.toml`:1: expected `=` after `Root`"},
	    {"Root =\n", "`opts.toml`:1: `Root` has no value"},
	    {"a.b = 1\n", "`opts.toml`:1: expected `key = value`"},
	    {"Root = \"/a\"\nroot = \"/b\"\n", "`opts.toml`:2: `root` is set twice"},
	    {"ShimCgroup = [\"/a\"]\n",
	     "`opts.toml`:1: ShimCgroup: arrays and inline tables are not supported"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = parse(bad[i].text, &o);
		is_str(e, bad[i].want, "bad input %zu: %s", i, bad[i].want);
		ok(o.root == NULL && o.shim_cgroup == NULL, "nothing is left after an error");
	}
}

/* Packs m into an Any of type url. */
static Google__Protobuf__Any *any_of(const char *url, const ProtobufCMessage *m)
{
	Google__Protobuf__Any *any = calloc(1, sizeof(*any));
	google__protobuf__any__init(any);
	any->type_url = (char *)url;
	ttrpc_pack(m, &any->value.data, &any->value.len);
	return any;
}

static void any_free(Google__Protobuf__Any *any)
{
	free(any->value.data);
	free(any);
}

static void test_any(void)
{
	Containerd__Runc__V1__Options runc = CONTAINERD__RUNC__V1__OPTIONS__INIT;
	Containerd__Runc__V1__RuntimeOptions ro = CONTAINERD__RUNC__V1__RUNTIME_OPTIONS__INIT;
	struct shim_options o = {0};
	berth_error_t err = NULL;
	Google__Protobuf__Any *any;
	char path[] = "/tmp/berth-shim-options.XXXXXX";
	const char body[] = "Root = \"/from/body\"\nIoGid = 5\n";
	int fd;

	ok(options_parse(NULL, &o, &err) == 0 && o.root == NULL, "no options: the defaults");

	runc.root = (char *)"/run/r";
	runc.no_pivot_root = true;
	runc.no_new_keyring = true;
	runc.shim_cgroup = (char *)"/shim";
	runc.io_uid = 7;
	runc.io_gid = 8;
	runc.binary_name = (char *)"runc";
	runc.systemd_cgroup = true;
	any = any_of("containerd.runc.v1.Options", &runc.base);
	ok(options_parse(any, &o, &err) == 0, "runc Options parse");
	is_str(o.root, "/run/r", "Root");
	is_str(o.shim_cgroup, "/shim", "ShimCgroup");
	ok(o.no_pivot_root && o.no_new_keyring && o.systemd_cgroup && o.io_uid == 7 && o.io_gid == 8,
	   "flags and ids");
	options_free(&o);
	any->type_url = (char *)"types.googleapis.com/containerd.runc.v1.Options";
	ok(options_parse(any, &o, &err) == 0 && o.io_uid == 7, "a type URL with a host prefix");
	options_free(&o);
	any->type_url = (char *)"io.example.Other";
	ok(options_parse(any, &o, &err) == 0 && o.root == NULL && o.io_uid == 0, "another type: ignored");
	any_free(any);

	/* runtimeoptions: a config file, a relative path, a missing file, a body */
	fd = mkstemp(path);
	ok(fd >= 0 && write(fd, "NoPivotRoot = true\nRoot = \"/from/file\"\n", 39) == 39,
	   "write a config file");
	close(fd);
	ro.config_path = path;
	any = any_of("runtimeoptions.v1.Options", &ro.base);
	ok(options_parse(any, &o, &err) == 0, "runtimeoptions with config_path");
	ok(o.no_pivot_root, "NoPivotRoot from the file");
	is_str(o.root, "/from/file", "Root from the file");
	options_free(&o);
	any_free(any);
	unlink(path);
	ok(options_parse_bytes(NULL, 0, &o, &err) == 0 && o.root == NULL, "no bytes: the defaults");

	any = any_of("runtimeoptions.v1.Options", &ro.base);
	ok(options_parse(any, &o, &err) < 0 && strstr(berth_error_message(err), path) != NULL,
	   "a missing config file is an error naming it (%s)", err ? berth_error_message(err) : "");
	berth_error_free(&err);
	any_free(any);

	ro.config_path = (char *)"relative.toml";
	any = any_of("runtimeoptions.v1.Options", &ro.base);
	ok(options_parse(any, &o, &err) < 0, "a relative config path is an error");
	is_str(err ? berth_error_message(err) : NULL,
	       "runtime options file `relative.toml`: not an absolute path", "  which says so");
	berth_error_free(&err);
	any_free(any);

	ro.config_path = (char *)"";
	ro.config_body.data = (uint8_t *)body;
	ro.config_body.len = strlen(body);
	any = any_of("runtimeoptions.v1.Options", &ro.base);
	ok(options_parse(any, &o, &err) == 0 && o.io_gid == 5, "config_body (containerd 1.7)");
	is_str(o.root, "/from/body", "Root from the body");
	options_free(&o);
	any_free(any);

	ok(options_parse_bytes((const uint8_t *)"\xff\xff", 2, &o, &err) < 0,
	   "bytes that are no Any: an error");
	berth_error_free(&err);
}

int main(void)
{
	test_toml();
	test_any();
	return tap_done();
}
