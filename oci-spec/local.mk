# liboci: runtime-spec and image-spec types, JSON, and the util layer under everything.
noinst_LIBRARIES += liboci.a
liboci_a_SOURCES = \
	oci-spec/util/error.c oci-spec/util/error.h \
	oci-spec/util/cleanup.h \
	oci-spec/util/fs.c oci-spec/util/fs.h \
	oci-spec/util/socket.c oci-spec/util/socket.h \
	oci-spec/util/timefmt.c oci-spec/util/timefmt.h \
	oci-spec/oci_json.c oci-spec/oci_json.h \
	oci-spec/runtime_spec.c oci-spec/runtime_spec.h
# Layers: apply a layer tar onto a directory, diff two trees into a layer.
liboci_a_SOURCES += \
	oci-spec/layer.c oci-spec/layer.h \
	oci-spec/layer_apply.c \
	oci-spec/layer_diff.c
# Image-spec: types and JSON, digests, the layout store, OCI and docker-save archives.
liboci_a_SOURCES += \
	oci-spec/image_spec.c oci-spec/image_spec.h \
	oci-spec/digest.c oci-spec/digest.h \
	oci-spec/layout.c oci-spec/layout.h \
	oci-spec/archive_read.c oci-spec/archive_read.h
