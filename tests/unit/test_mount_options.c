/* Unit tests of mount_options_parse: config.json mount options split into
 * mount(2) flags, propagation, recursive attributes and file system data. */
#include "config.h"

#include <stdlib.h>
#include <sys/mount.h>

#include "mounts.h"
#include "../tap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_flags(void)
{
	const char *opts[] = {"nosuid", "noexec", "nodev", "ro", "relatime"};
	struct mount_options o;
	berth_error_t err = NULL;

	ok(mount_options_parse((char *const *)opts, N(opts), &o, &err) == 0, "flags parse");
	ok(o.flags == (MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY | MS_RELATIME),
	   "flags: nosuid noexec nodev ro relatime");
	ok(o.propagation == 0, "flags: no propagation");
	is_str(o.data, NULL, "flags: no data");
	mount_options_free(&o);
}

static void test_clear_wins_last(void)
{
	const char *opts[] = {"ro", "rw", "nosuid", "suid", "noatime", "atime", "exec"};
	struct mount_options o;
	berth_error_t err = NULL;

	ok(mount_options_parse((char *const *)opts, N(opts), &o, &err) == 0, "clearing options parse");
	ok(o.flags == 0, "rw after ro, suid after nosuid, atime after noatime: nothing set");
	ok((o.clear & (MS_RDONLY | MS_NOSUID | MS_NOATIME | MS_NOEXEC)) ==
	       (MS_RDONLY | MS_NOSUID | MS_NOATIME | MS_NOEXEC),
	   "cleared flags are recorded");
	mount_options_free(&o);
}

static void test_data(void)
{
	const char *opts[] = {"nosuid", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"};
	struct mount_options o;
	berth_error_t err = NULL;

	ok(mount_options_parse((char *const *)opts, N(opts), &o, &err) == 0, "devpts options parse");
	ok(o.flags == MS_NOSUID, "devpts: nosuid only as a flag");
	is_str(o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5", "devpts: the rest is data, in order");
	mount_options_free(&o);

	const char *tmpfs[] = {"nosuid", "strictatime", "mode=755", "size=65536k"};
	ok(mount_options_parse((char *const *)tmpfs, N(tmpfs), &o, &err) == 0, "tmpfs options parse");
	ok(o.flags == (MS_NOSUID | MS_STRICTATIME), "tmpfs: nosuid strictatime");
	is_str(o.data, "mode=755,size=65536k", "tmpfs: data");
	mount_options_free(&o);
}

static void test_bind_and_propagation(void)
{
	const char *opts[] = {"rbind", "ro", "rslave"};
	const char *opts2[] = {"bind", "shared", "private"};
	struct mount_options o;
	berth_error_t err = NULL;

	ok(mount_options_parse((char *const *)opts, N(opts), &o, &err) == 0, "rbind parse");
	ok(o.flags == (MS_BIND | MS_REC | MS_RDONLY), "rbind ro: MS_BIND|MS_REC|MS_RDONLY");
	ok(o.propagation == (MS_SLAVE | MS_REC), "rslave: MS_SLAVE|MS_REC, kept apart from the flags");
	mount_options_free(&o);

	ok(mount_options_parse((char *const *)opts2, N(opts2), &o, &err) == 0, "bind parse");
	ok(o.flags == MS_BIND, "bind: MS_BIND without MS_REC");
	ok(o.propagation == MS_PRIVATE, "the last propagation wins");
	mount_options_free(&o);
}

static void test_everything_known(void)
{
	const char *opts[] = {"defaults",      "sync",        "async",    "dirsync",    "remount",
	                      "mand",          "nomand",      "diratime", "nodiratime", "norelatime",
	                      "nostrictatime", "nosymfollow", "lazytime", "dev",        "unbindable"};
	struct mount_options o;
	berth_error_t err = NULL;

	ok(mount_options_parse((char *const *)opts, N(opts), &o, &err) == 0, "all known options parse");
	is_str(o.data, NULL, "no known option leaks into data");
	ok(o.flags == (MS_DIRSYNC | MS_REMOUNT | MS_NODIRATIME | MS_NOSYMFOLLOW | MS_LAZYTIME),
	   "dirsync remount nodiratime nosymfollow lazytime set; sync/mand undone");
	ok(o.propagation == MS_UNBINDABLE, "unbindable");
	mount_options_free(&o);
}

static void test_recursive_and_refused(void)
{
	const char *opts[] = {"rro", "rnosuid", "rexec"};
	const char *idmap[] = {"idmap"};
	const char *copyup[] = {"tmpcopyup"};
	struct mount_options o;
	berth_error_t err = NULL;

	ok(mount_options_parse((char *const *)opts, N(opts), &o, &err) == 0, "recursive options parse");
	ok(o.rec_attr_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID),
	   "rro rnosuid: recursive attributes set");
	ok(o.rec_attr_clr == MOUNT_ATTR_NOEXEC, "rexec: recursive attribute cleared");
	ok(o.flags == 0, "recursive options are not mount(2) flags");
	mount_options_free(&o);

	ok(mount_options_parse((char *const *)idmap, N(idmap), &o, &err) == 0 && o.idmap &&
	       !o.idmap_recursive,
	   "idmap: an id-mapped mount, not recursive");
	mount_options_free(&o);
	{
		static const char *const ridmap[] = {"rbind", "ridmap"};
		ok(mount_options_parse((char *const *)ridmap, N(ridmap), &o, &err) == 0 && o.idmap &&
		       o.idmap_recursive && (o.flags & MS_REC),
		   "ridmap: id-mapped on every mount of the tree");
		mount_options_free(&o);
	}

	ok(mount_options_parse((char *const *)copyup, N(copyup), &o, &err) == 0 && o.tmpcopyup,
	   "tmpcopyup is recognised");
	mount_options_free(&o);
}

static void test_propagation_names(void)
{
	unsigned long f = 0;
	berth_error_t err = NULL;

	ok(mount_propagation_from_name("rprivate", &f, &err) == 0 && f == (MS_PRIVATE | MS_REC), "rprivate");
	ok(mount_propagation_from_name("slave", &f, &err) == 0 && f == MS_SLAVE, "slave");
	ok(mount_propagation_from_name("rshared", &f, &err) == 0 && f == (MS_SHARED | MS_REC), "rshared");
	ok(mount_propagation_from_name("ro", &f, &err) < 0, "ro is not a propagation");
	is_str(err != NULL ? err->msg : NULL, "unknown rootfs propagation `ro`", "error names the value");
	berth_error_free(&err);
}

int main(void)
{
	test_flags();
	test_clear_wins_last();
	test_data();
	test_bind_and_propagation();
	test_everything_known();
	test_recursive_and_refused();
	test_propagation_names();
	return tap_done();
}
