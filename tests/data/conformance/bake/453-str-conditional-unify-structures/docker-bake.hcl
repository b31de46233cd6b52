variable "ON" {
  default = true
}
target "default" {
  args = {
    OBJ_SAME_KEYS  = jsonencode(ON ? { a = 1 } : { a = "x" })
    OBJ_OTHER_KEYS = jsonencode(ON ? { a = 1, b = true } : { a = "x" })
    OBJ_EMPTY      = jsonencode(ON ? { a = 1 } : {})
    TUPLE_SAME_LEN = jsonencode(ON ? [1, "x"] : ["y", 2])
    TUPLE_LENGTHS  = jsonencode(ON ? [1, true] : ["b"])
    TUPLE_NESTED   = jsonencode(ON ? [[1], ["x"]] : [])
    OBJ_OF_TUPLES  = jsonencode(ON ? { a = [1] } : { a = ["x", "y"] })
    NULL_BRANCH    = jsonencode(ON ? null : ["b", 1])
    FALSE_CHOSEN   = jsonencode(!ON ? 1 : "x")
  }
  tags = ON ? ["a", 1] : ["b", "c"]
}
