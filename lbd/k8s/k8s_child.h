/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Kubernetes child ("lbd --child k8s"): the list/watch client, its
 * TLS and JSON parsing, the kubeconfig's YAML and the translation, run
 * apart from the privileged process, as the unprivileged user with no
 * capability (proc.h starts it, drops its privileges and respawns it).
 *
 * What it speaks on its channel (msg.h, "the Kubernetes client"):
 *   lbd -> child  LBD_MSG_K8S_START: settings, the kubeconfig's bytes and
 *                 the bytes of the files it references
 *   child -> lbd  LBD_MSG_K8S_STATUS: the client's state; the first one
 *                 names the files the kubeconfig references when the
 *                 START did not carry them
 *   child -> lbd  LBD_MSG_K8S_SERVICES: each new set of the cluster's
 *                 services, once both resources are listed
 */
#ifndef LBD_K8S_CHILD_H
#define LBD_K8S_CHILD_H

/* Runs the child on the channel fd (3) until lbd closes it; the exit
 * status. Called by proc_child_main after the privileges are dropped. */
int k8s_child_run(int fd);

#endif /* LBD_K8S_CHILD_H */
