# `make install` (cmake --install) and the Debian package (CPack DEB).
#
# PREFIX/bin: flashcharge, flashcharge-sim, flashcharge-bench
# PREFIX/share/flashcharge/web: the web UI (the server looks there, beside
#   its own bin/, when --web-root is not given)
# PREFIX/share/flashcharge/schemas: the OCPP 1.6 schemas and the API documents
# PREFIX/share/man/man1/flashcharge.1: generated from the option table
# /etc/flashcharge/flashcharge.json with PREFIX /usr (else
#   PREFIX/etc/flashcharge/): the example configuration
# PREFIX/lib/systemd/system/flashcharge.service: the hardened unit
include(GNUInstallDirs)

# The man page: packaging/flashcharge.1.in with the option lists of the
# binary's own table (tools/gen_man.c), so it cannot drift from the code.
add_executable(fc_gen_man ${CMAKE_SOURCE_DIR}/tools/gen_man.c)
target_link_libraries(fc_gen_man PRIVATE fc)
set(FC_MAN ${CMAKE_BINARY_DIR}/flashcharge.1)
add_custom_command(
  OUTPUT ${FC_MAN}
  COMMAND fc_gen_man ${CMAKE_SOURCE_DIR}/packaging/flashcharge.1.in > ${FC_MAN}
  DEPENDS fc_gen_man ${CMAKE_SOURCE_DIR}/packaging/flashcharge.1.in
  COMMENT "Generating flashcharge.1 from the option table")
add_custom_target(man ALL DEPENDS ${FC_MAN})

install(TARGETS flashcharge RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(FC_TOOLS)
  install(TARGETS flashcharge-sim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  if(FC_BENCH)
    install(TARGETS flashcharge-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endif()
install(DIRECTORY ${CMAKE_SOURCE_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/flashcharge/web)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/schemas/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/flashcharge/schemas)
install(FILES ${FC_MAN} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The configuration and the unit hold absolute paths, taken from the prefix
# at install time rather than at configure time: one build installs right
# under `make install PREFIX=...` and into the package (prefix /usr,
# configuration in /etc).
install(CODE "set(FC_SRC \"${CMAKE_SOURCE_DIR}\")\nset(FC_BLD \"${CMAKE_BINARY_DIR}\")")
install(CODE [[
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(FC_SYSCONFDIR /etc)
  else()
    set(FC_SYSCONFDIR "${CMAKE_INSTALL_PREFIX}/etc")
  endif()
  set(FC_BINDIR "${CMAKE_INSTALL_PREFIX}/bin")
  configure_file("${FC_SRC}/packaging/flashcharge.service.in" "${FC_BLD}/unit/flashcharge.service"
                 @ONLY)
  file(INSTALL "${FC_BLD}/unit/flashcharge.service"
       DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
  file(INSTALL "${FC_SRC}/packaging/flashcharge.json" DESTINATION "${FC_SYSCONFDIR}/flashcharge")
]])

# The Debian package: `make deb`, or cpack -G DEB in any build directory.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME flashcharge)
set(CPACK_PACKAGE_VERSION ${FC_VERSION})
set(CPACK_PACKAGE_CONTACT "flashcharge maintainers <flashcharge@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time OCPP 1.6J central system for EV chargers")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Chargers connect over OCPP-J; every message is validated, stored in SQLite
and confirmed only once committed, and every change is pushed to the
browsers watching the charger. Runs as the systemd service flashcharge.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # dpkg-shlibdeps: libwebsockets17, libuv1, libjwt0...
# libwebsockets loads its libuv event library at run time (dlopen), which
# dpkg-shlibdeps cannot see; adduser makes the system user in postinst.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libwebsockets-evlib-uv, adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/deb/postinst ${CMAKE_SOURCE_DIR}/packaging/deb/prerm
    ${CMAKE_SOURCE_DIR}/packaging/deb/postrm ${CMAKE_SOURCE_DIR}/packaging/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
include(CPack)
