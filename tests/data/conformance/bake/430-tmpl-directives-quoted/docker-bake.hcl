variable "XS" {
  default = ["a", "b", "c"]
}
variable "M" {
  default = {
    y = 2
    x = 1
  }
}
variable "EMPTY" {
  default = []
}
variable "EMPTY_MAP" {
  default = {}
}
target "default" {
  args = {
    FOR           = "%{ for x in XS }${x},%{ endfor }"
    FOR_INDEX     = "%{ for i, x in XS }${i}=${x};%{ endfor }"
    FOR_KEY_VALUE = "%{ for k, v in M }${k}:${v} %{ endfor }"
    FOR_EMPTY     = "[%{ for x in EMPTY }${x}%{ endfor }]"
    FOR_EMPTY_MAP = "[%{ for k, v in EMPTY_MAP }${k}%{ endfor }]"
    FOR_SET       = "%{ for x in setunion(["b", "a"], ["b"]) }${x}%{ endfor }"
    FOR_LITERAL   = "%{ for n in [1, 2.5, true] }<${n}>%{ endfor }"
    IF            = "%{ if length(XS) > 2 }many%{ else }few%{ endif }"
    IF_NO_ELSE    = "<%{ if false }hidden%{ endif }>"
    IF_STRING     = "%{ if "true" }yes%{ endif }"
    STRIP         = "a  %{~ for x in XS ~}  ${x}  %{~ endfor ~}  z"
    STRIP_LEFT    = "1   %{~ if true } 2 %{ endif }"
    STRIP_RIGHT   = "%{ if true ~}   2   %{~ endif ~}   3"
    STRIP_INTERP  = "a   ${~ "b" ~}   c"
    NESTED        = "%{ for x in XS }%{ if x != "b" }${upper(x)}%{ else }-%{ endif }%{ endfor }"
    ESCAPED       = "%%{ not a directive } $${not_interp}"
    ONLY_DIR      = "%{ if true }${1}%{ endif }"
  }
}
