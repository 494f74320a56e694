/** The resolved ClusterConfig (the `cluster` namespace). */
export const CLUSTER_CONFIG = Symbol('CLUSTER_CONFIG');
