# The recipes' command line, sourced by each run.sh after it sets its defaults:
#     stage=1; stop_stage=100; . recipes/options.sh "$@"
# `--some-name V` sets the variable some_name, which the script must already have set, so a
# misspelt option is an error rather than ignored. run_stage K is true when
# stage <= K <= stop_stage.
while [ $# -gt 0 ]; do
    name=${1#--}
    name=${name//-/_}
    if [ "$name" = "$1" ] || [ $# -lt 2 ] || ! [[ $name =~ ^[a-z_]+$ ]] || [ -z "${!name+set}" ]; then
        echo "unknown option or missing value: $1" >&2
        exit 2
    fi
    printf -v "$name" '%s' "$2"
    shift 2
done
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
