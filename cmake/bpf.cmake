# BPF objects and their libbpf skeletons.
#
# lbd_bpf_object(NAME SOURCE) compiles SOURCE with clang for the BPF target
# into ${LBD_GEN_DIR}/NAME.bpf.o, generates ${LBD_GEN_DIR}/NAME.skel.h with
# bpftool (the object is embedded in the skeleton, so binaries need no files
# at run time) and defines the custom target bpf_NAME.

find_program(CLANG clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

execute_process(COMMAND gcc -dumpmachine OUTPUT_VARIABLE LBD_TRIPLET
		OUTPUT_STRIP_TRAILING_WHITESPACE)

set(LBD_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${LBD_GEN_DIR})

set(LBD_BPF_CFLAGS
	-target bpf -O2 -g
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
	-Wmissing-prototypes -Wimplicit-fallthrough
	-Wno-unused-parameter -Wno-compare-distinct-pointer-types
	-I${CMAKE_SOURCE_DIR}/include
	-I${CMAKE_SOURCE_DIR}/bpf
	-I/usr/include/${LBD_TRIPLET})

function(lbd_bpf_object name src)
	set(obj ${LBD_GEN_DIR}/${name}.bpf.o)
	set(skel ${LBD_GEN_DIR}/${name}.skel.h)
	# shared.h and hash.h, bpf/lib and every program's private headers
	file(GLOB_RECURSE bpf_headers ${CMAKE_SOURCE_DIR}/include/lbd/*.h
		${CMAKE_SOURCE_DIR}/bpf/*.h)
	add_custom_command(OUTPUT ${obj}
		COMMAND ${CLANG} ${LBD_BPF_CFLAGS} ${ARGN}
			-c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
		DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${src} ${bpf_headers}
		COMMENT "BPF ${name}"
		VERBATIM)
	add_custom_command(OUTPUT ${skel}
		COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
		DEPENDS ${obj}
		COMMENT "skeleton ${name}"
		VERBATIM)
	add_custom_target(bpf_${name} ALL DEPENDS ${obj} ${skel})
endfunction()
