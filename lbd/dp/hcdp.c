// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "hcdp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tc.h"
#include "tc_hc.skel.h"

struct hcdp {
	struct tc_hc *skel;
};

int hcdp_open(const struct lbd_dp *dp, struct hcdp **out)
{
	struct hcdp *h;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->skel = tc_hc__open();
	if (!h->skel) {
		err = -errno;
		goto out;
	}
	err = dp_reuse_maps(dp, h->skel->obj);
	if (err)
		goto out;
	/* the same knobs as the XDP program: encapsulation source, seed */
	h->skel->rodata->knobs = dp_opts(dp)->knobs;
	h->skel->rodata->knobs.map_abi = LBD_MAP_ABI;
	err = tc_hc__load(h->skel);
	if (err) {
		log_warnx("loading the health check program failed: %s",
			  strerror(-err));
		goto out;
	}
	*out = h;
	return 0;
out:
	hcdp_close(h);
	return err;
}

void hcdp_close(struct hcdp *h)
{
	if (!h)
		return;
	tc_hc__destroy(h->skel);
	free(h);
}

int hcdp_prog_fd(const struct hcdp *h)
{
	return bpf_program__fd(h->skel->progs.lbd_hc_egress);
}

int hcdp_attach(struct hcdp *h, int ifindex)
{
	return tc_attach(ifindex, BPF_TC_EGRESS,
			 bpf_program__fd(h->skel->progs.lbd_hc_egress));
}

int hcdp_detach(int ifindex)
{
	return tc_detach(ifindex, BPF_TC_EGRESS);
}
