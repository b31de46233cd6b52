variable "NUM_EXP" {
  type = number
}
variable "NUM_PLUS" {
  type    = number
  default = 0
}
variable "NUM_FRAC" {
  type = number
}
variable "BOOL_ONE" {
  type = bool
}
variable "BOOL_UPPER" {
  type = bool
}
variable "LIST_NUM" {
  type = list(number)
}
variable "SET_STR" {
  type = set(string)
}
variable "TUPLE" {
  type = tuple([string, number, bool])
}
variable "MAP_NUM" {
  type = map(number)
}
variable "MAP_STR_JSON" {
  type = map(string)
}
variable "OBJ" {
  type = object({ name = string, ports = list(number), on = optional(bool) })
}
variable "LIST_BOTH" {
  type    = list(string)
  default = []
}
variable "UNTYPED_NUM" {
  default = 1
}
variable "UNTYPED_BOOL" {
  default = false
}
variable "UNTYPED_STR_JSON" {
  default = "d"
}
target "default" {
  args = {
    NUM_EXP          = NUM_EXP
    NUM_PLUS         = NUM_PLUS
    NUM_FRAC         = NUM_FRAC
    BOOL_ONE         = BOOL_ONE
    BOOL_UPPER       = BOOL_UPPER
    LIST_NUM         = join(",", LIST_NUM)
    SET_STR          = join(",", SET_STR)
    TUPLE            = join(",", TUPLE)
    MAP_NUM          = jsonencode(MAP_NUM)
    MAP_STR_JSON     = jsonencode(MAP_STR_JSON)
    OBJ              = jsonencode(OBJ)
    LIST_BOTH        = join(",", LIST_BOTH)
    UNTYPED_NUM      = UNTYPED_NUM + 1
    UNTYPED_BOOL     = !UNTYPED_BOOL
    UNTYPED_STR_JSON = UNTYPED_STR_JSON
  }
}
