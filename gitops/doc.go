// Package gitops fits plans to the way teams keep them in git: which plans
// a change touched (--changed-since), which plan documents a change left
// unmanaged, the commit a run came from, and the plans of a whole
// repository grouped per target.
package gitops
