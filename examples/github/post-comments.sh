#!/usr/bin/env bash
# post-comments.sh DIR PR: posts the pull-request comments that
# `fleetplan plan --format markdown --comment-dir DIR` wrote, one per file,
# updating the comment each replaces (found by its hidden first line) and
# deleting the ones this run no longer has (a target the branch no longer
# changes, a part a shorter plan no longer needs). Needs gh and GH_TOKEN,
# and GITHUB_REPOSITORY (set by GitHub Actions).
set -euo pipefail
dir=${1:?usage: post-comments.sh DIR PR}
pr=${2:?usage: post-comments.sh DIR PR}
repo=${GITHUB_REPOSITORY:?set GITHUB_REPOSITORY to owner/name}

# The comments fleetplan posted before: "ID<TAB>first line".
declare -A ids=()
while IFS=$'\t' read -r id marker; do
	[ -n "$id" ] && ids["$marker"]=$id
done < <(gh api --paginate "repos/$repo/issues/$pr/comments" \
	--jq '.[] | select(.body | startswith("<!-- fleetplan:preview ")) | "\(.id)\t\(.body | split("\n")[0])"')

shopt -s nullglob
for f in "$dir"/comment-*.md; do
	marker=$(head -n 1 "$f")
	part=${marker%/*} # key and part number, without the number of parts
	found=""
	for m in "${!ids[@]}"; do
		if [ "${m%/*}" = "$part" ]; then
			found=${ids[$m]}
			unset 'ids[$m]'
			break
		fi
	done
	if [ -n "$found" ]; then
		gh api -X PATCH "repos/$repo/issues/comments/$found" -F "body=@$f" > /dev/null
	else
		gh api -X POST "repos/$repo/issues/$pr/comments" -F "body=@$f" > /dev/null
	fi
done
for m in "${!ids[@]}"; do
	gh api -X DELETE "repos/$repo/issues/comments/${ids[$m]}" > /dev/null
done
