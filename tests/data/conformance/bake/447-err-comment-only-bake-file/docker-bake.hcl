# nothing here
// still nothing
/* and
   nothing */
