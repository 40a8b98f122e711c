#!/usr/bin/env bash
# Fetch the Beijing multi-site air-quality data (UCI Machine Learning Repository, dataset id 501) and place
# PRSA2017_Data_20130301-20170228.zip where sdegan/configs/dataset/air_quality.yaml looks for it.
#
#   bash scripts/download_air_quality.sh [DESTINATION_DIR]      # default: data/raw
#
# Needs internet access and curl or wget. Idempotent: does nothing if the archive is already there.
# AIR_QUALITY_URL overrides the source (a mirror, or a file:// URL of a copy you already have).
# Then: sdegan-train dataset=air_quality   (or dataset.path=DESTINATION_DIR/PRSA2017_Data_20130301-20170228.zip)
set -euo pipefail

DESTINATION="${1:-data/raw}"
ARCHIVE="PRSA2017_Data_20130301-20170228.zip"
URL="${AIR_QUALITY_URL:-https://archive.ics.uci.edu/static/public/501/beijing+multi+site+air+quality+data.zip}"
PAGE="https://archive.ics.uci.edu/dataset/501/beijing+multi+site+air+quality+data"

if [[ -f "${DESTINATION}/${ARCHIVE}" ]]; then
    echo "${DESTINATION}/${ARCHIVE} already exists; nothing to do."
    exit 0
fi
mkdir -p "${DESTINATION}"
DOWNLOAD="$(mktemp "${TMPDIR:-/tmp}/uci_air_quality.XXXXXX.zip")"
trap 'rm -f "${DOWNLOAD}"' EXIT

echo "Downloading ${URL}"
if command -v curl >/dev/null 2>&1; then
    curl --fail --location --retry 3 --output "${DOWNLOAD}" "${URL}"
elif command -v wget >/dev/null 2>&1; then
    wget --tries=3 --output-document="${DOWNLOAD}" "${URL}"
else
    echo "error: neither curl nor wget is installed; download ${ARCHIVE} by hand from ${PAGE}" >&2
    exit 1
fi

# The UCI download wraps PRSA2017_Data_20130301-20170228.zip in another zip; unwrap it if so.
python3 - "${DOWNLOAD}" "${DESTINATION}/${ARCHIVE}" "${ARCHIVE}" <<'PYTHON'
import shutil
import sys
import zipfile

download, target, archive = sys.argv[1:]
with zipfile.ZipFile(download) as outer:
    inner = [name for name in outer.namelist() if name.endswith(archive)]
    if inner:
        with outer.open(inner[0]) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
    elif any(name.endswith("_20130301-20170228.csv") for name in outer.namelist()):
        shutil.copyfile(download, target)
    else:
        sys.exit(f"error: the download holds neither {archive} nor station CSVs: {outer.namelist()[:5]}")
with zipfile.ZipFile(target) as result:
    stations = [name for name in result.namelist() if name.endswith("_20130301-20170228.csv")]
print(f"wrote {target} ({len(stations)} station files)")
PYTHON
